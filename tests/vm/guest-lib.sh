# What the guest scripts share (sourced; $res is the results file): one line per test,
# "PASS name" or "FAIL name: why", and the timing helpers of the figures they report.
pass() { echo "PASS $1" >>"$res"; }
fail() { echo "FAIL $1: $2" >>"$res"; }
check() { # name status-of-the-condition why
	if [ "$2" = 0 ]; then pass "$1"; else fail "$1" "$3"; fi
}
us_of() { # command... -> elapsed microseconds
	t0=$(date +%s%N)
	"$@" >/dev/null 2>&1
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000))
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
