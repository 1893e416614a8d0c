# Sourced by each client script (srt.sh, flatpak.sh, buildstream.sh), which run.sh starts as
# the unprivileged user, once per bwrap:   bash CLIENT.sh BWRAP RUN OBS LIB
#   BWRAP  the bwrap to drive (Debian's /usr/bin/bwrap, or the `bwrap` link to sbox)
#   RUN    an empty scratch directory (the same path for both runs, so outputs compare as is)
#   OBS    where each case writes its observations, one file per case
#   LIB    the directory holding these scripts
# A case writes what a user of the client would see (exit statuses, outputs, files on the
# host) into $OBS/<case>; run.sh compares the two runs case by case. Anything that differs
# between runs for reasons other than bwrap (pids, ports, times) must stay out of it.
set -u
BWRAP=$1 RUN=$2 OBS=$3 LIB=$4
CASE=
mkdir -p "$OBS"
cd "$RUN" || exit 1

# begin NAME: start a case (observations go to $OBS/NAME, the case's stderr to NAME.err).
begin() {
	CASE=$1
	: >"$OBS/$CASE"
	: >"$OBS/$CASE.err"
}

# obs TEXT...: one observation line.
obs() { printf '%s\n' "$*" >>"$OBS/$CASE"; }

# expect KEY ACTUAL WANTED: an observation that must also hold under Debian's bwrap; a
# mismatch there means the harness or the machine is wrong, and run.sh says so.
expect() {
	obs "$1: $2"
	[ "$2" = "$3" ] || obs "unexpected $1 (want $3)"
}

# out FILE: the observed output of a command, one line per line, or "(none)".
out() {
	if [ -s "$1" ]; then sed 's/^/  | /' "$1" >>"$OBS/$CASE"; else obs "  (no output)"; fi
}

# note TEXT...: diagnostics for a human (not compared).
note() { printf '%s\n' "$*" >>"$OBS/$CASE.err"; }

# t SECONDS CMD...: run with a time limit, stderr to the case's diagnostics.
t() {
	local s=$1
	shift
	timeout -k 5 "$s" "$@" 2>>"$OBS/$CASE.err"
}

# live: the pids on stdin that are not zombies (an unreaped zombie runs nothing; pid 1 of
# this machine may be slow to reap the ones reparented to it).
live() {
	local p
	while read -r p; do
		case $(ps -o stat= -p "$p") in Z* | "") ;; *) echo "$p" ;; esac
	done
}

# leftovers PATTERN: names of this user's processes whose command line matches PATTERN
# (after the client has returned: whatever is still running was left behind); they are
# killed, by pid, so the next case starts clean.
leftovers() {
	local pids
	pids=$(pgrep -u "$(id -u)" -f -- "$1" | grep -vx "$$" | live)
	if [ -z "$pids" ]; then
		echo none
		return
	fi
	# shellcheck disable=SC2086
	ps -o comm= -p "$(echo $pids | tr ' ' ,)" | sort -u | tr '\n' ' ' | sed 's/ $//'
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null || true
}

# wait_for FILE [TENTHS]: wait until FILE exists (default 10 s); status 1 if it never does.
wait_for() {
	local i=0
	while [ ! -e "$1" ]; do
		i=$((i + 1))
		[ "$i" -gt "${2:-100}" ] && return 1
		sleep 0.1
	done
}
