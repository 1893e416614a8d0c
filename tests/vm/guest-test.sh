# sbox's resource-limit tests, run in the guest as the lingering user "tester" (uid 1000) in a
# login session (XDG_RUNTIME_DIR and the user bus are set), then as "nodeleg" (uid 1001, whose
# systemd has no memory controller). One line per test appended to $1: "PASS name",
# "FAIL name: why" (guest-root.sh writes "END" when all ran).
res=$1
. "$(dirname "$0")/guest-lib.sh"

if [ "$(id -un)" = nodeleg ]; then
	out=$(sbox --ro-bind / / --mem 64M sh -c 'echo ran' 2>&1)
	st=$?
	echo "nodeleg --mem: status $st: $out"
	case "$out" in
	"sbox: --mem: /sys/fs/cgroup/user.slice/user-1001.slice/user@1001.service/app.slice/sbox-"*".scope: the memory controller is not delegated to your systemd user instance"*"Delegate="*)
		[ $st = 1 ] && [ "$(echo "$out" | grep -c .)" = 1 ] && pass "memory not delegated: one-line error naming the fix" ||
			fail "memory not delegated: one-line error naming the fix" "status $st: $out" ;;
	*) fail "memory not delegated: one-line error naming the fix" "status $st: $out" ;;
	esac
	out=$(sbox --ro-bind / / --pids 10 sh -c 'echo ran' 2>&1)
	[ "$out" = ran ] && pass "pids still usable where memory is not delegated" ||
		fail "pids still usable where memory is not delegated" "$out"
	sleep 0.5
	l=$(find /sys/fs/cgroup -name 'sbox-[0-9]*' 2>/dev/null | tr '\n' ' ')
	[ -z "$l" ] && pass "no scope left after the not-delegated error" ||
		fail "no scope left after the not-delegated error" "$l"
	exit 0
fi
cg=/sys/fs/cgroup
user_cg=$cg/user.slice/user-1000.slice/user@1000.service
w=$(mktemp -d)
hog='a=AAAAAAAAAAAAAAAA; while :; do a="$a$a"; done'
# A sandbox that sees the whole (read-only) system: enough to run sh, sleep, cat.
sb() { sbox --ro-bind / / --dev /dev --bind "$w" "$w" "$@"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# The sbox scopes and cgroups that exist now (must be none between tests).
leftovers() {
	find $cg -name 'sbox-[0-9]*' 2>/dev/null
	systemctl --user list-units --all --plain --no-legend 'sbox-[0-9]*' 2>/dev/null
}
no_leftovers() { # name
	i=0
	while [ -n "$(leftovers)" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	l=$(leftovers | tr '\n' ' ')
	if [ -z "$l" ]; then pass "$1"; else fail "$1" "left behind: $l"; fi
}

echo "systemd: $(systemctl --version | head -n1); kernel $(uname -r)"
echo "env: XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR DBUS_SESSION_BUS_ADDRESS=$DBUS_SESSION_BUS_ADDRESS"

# --- The environment: what sbox relies on, checked with systemd's own tools.
ctl=$(cat $user_cg/cgroup.controllers)
for c in memory pids cpu; do
	case " $ctl " in
	*" $c "*) pass "env: user@1000 delegates $c ($ctl)" ;;
	*) fail "env: user@1000 delegates $c" "cgroup.controllers is '$ctl'" ;;
	esac
done
systemd-run --user --scope -q -p MemoryMax=512K -p MemorySwapMax=0 sh -c "$hog" 2>/dev/null
st=$?
if [ $st = 137 ]; then pass "env: systemd-run 512K memory hog exits 137"; else
	fail "env: systemd-run 512K memory hog exits 137" "status $st"; fi
ref=$(systemd-run --user --scope -q -p MemoryMax=512K -p MemorySwapMax=0 sh -c 'echo hi' 2>&1)
ref_st=$?
echo "systemd-run 512K echo hi: status $ref_st, output '$ref'"

# --- sbox runs at all (needs the launch sequence).
out=$(sb sh -c 'echo alive' 2>&1)
if [ "$out" = alive ]; then pass "sbox runs a command"; else
	fail "sbox runs a command" "$(echo "$out" | head -n 3 | tr '\n' ' ')"; fi

# --- A memory hog is OOM-killed, reported, status 137.
err=$(sb --mem 16M sh -c "$hog" 2>&1 >/dev/null)
st=$?
echo "hog under 16M: status $st, stderr '$err'"
if [ $st = 137 ]; then pass "--mem 16M: memory hog exits 137"; else
	fail "--mem 16M: memory hog exits 137" "status $st: $err"; fi
case "$err" in
*"out of memory (limit 16M, peak "*) pass "--mem 16M: OOM kill reported with limit and peak" ;;
*) fail "--mem 16M: OOM kill reported with limit and peak" "stderr: $err" ;;
esac
[ "$(echo "$err" | grep -c .)" = 1 ] && pass "--mem 16M: the report is one line" ||
	fail "--mem 16M: the report is one line" "stderr: $err"
no_leftovers "--mem 16M: no scope or cgroup left after an OOM kill"

# --- Under --level-prefix the OOM report is an error for journald: <3> first.
err=$(sb --level-prefix --mem 16M sh -c "$hog" 2>&1 >/dev/null)
case "$err" in
'<3>sbox: --mem: the kernel killed the command: out of memory (limit 16M, peak '*) pass "--level-prefix: the OOM report starts with <3>" ;;
*) fail "--level-prefix: the OOM report starts with <3>" "stderr: $err" ;;
esac

# --- The same with a PID namespace (init stays outside the limit, the command inside).
err=$(sb --unshare-pid --proc /proc --mem 16M sh -c "$hog" 2>&1 >/dev/null)
st=$?
if [ $st = 137 ]; then pass "--unshare-pid --mem 16M: memory hog exits 137"; else
	fail "--unshare-pid --mem 16M: memory hog exits 137" "status $st: $err"; fi
out=$(sb --unshare-pid --proc /proc --mem 512K sh -c 'echo hi' 2>/dev/null)
[ "$out" = "$(echo "$ref" | grep -x hi)" ] && pass "--unshare-pid --mem 512K: echo hi as under systemd-run" ||
	fail "--unshare-pid --mem 512K: echo hi as under systemd-run" "sbox '$out', systemd-run '$ref'"

# --- A modest command under 64M succeeds.
out=$(sb --mem 64M sh -c 'ls / >/dev/null && echo ok' 2>&1)
st=$?
if [ $st = 0 ] && [ "$out" = ok ]; then pass "--mem 64M: a modest command succeeds"; else
	fail "--mem 64M: a modest command succeeds" "status $st: $out"; fi

# --- --json-status-fd's exit record carries what the memory cgroup saw (memory.peak is read
# only when asked for like this, or for an OOM report).
sb --mem 64M --json-status-fd 3 true 3>"$w/status"
last=$(tail -n 1 "$w/status")
case "$last" in
*'"exit-code": 0, "oom-kill": 0, "memory-peak": '[1-9]*) pass "--json-status-fd: exit record with oom-kill and memory-peak" ;;
*) fail "--json-status-fd: exit record with oom-kill and memory-peak" "$last" ;;
esac

# --- The same over the user bus, where systemd's private socket is not found (sbox uses it
# first, as systemctl --user does).
[ -S "$XDG_RUNTIME_DIR/systemd/private" ] && pass "env: systemd's private socket is there" ||
	fail "env: systemd's private socket is there" "no $XDG_RUNTIME_DIR/systemd/private"
# (The command's cgroup is read from out here: inside, it is the root of its cgroup namespace.)
rm -f "$w/pid"
out=$(env XDG_RUNTIME_DIR=/nonexistent DBUS_SESSION_BUS_ADDRESS="unix:path=$XDG_RUNTIME_DIR/bus" \
	sbox --ro-bind / / --bind "$w" "$w" --mem 64M sh -c "echo \$\$ >$w/pid; sleep 1" 2>&1 &
	i=0
	while [ ! -s "$w/pid" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	cat /proc/$(cat "$w/pid")/cgroup
	wait $!)
st=$?
case "$out" in
"0::/user.slice/user-1000.slice/user@1000.service/app.slice/sbox-"*".scope/payload")
	[ $st = 0 ] && pass "--mem over the user bus (no private socket)" ||
		fail "--mem over the user bus (no private socket)" "status $st: $out" ;;
*) fail "--mem over the user bus (no private socket)" "status $st: $out" ;;
esac

# --- The limits, read from outside, on the command's own cgroup.
rm -f "$w/cg"
# (sbox itself, not the sb function, so that $! is sbox's pid)
sbox --ro-bind / / --dev /dev --bind "$w" "$w" --mem 64M --pids 50 --cpu 150% \
	sh -c "echo \$\$ >$w/cg.tmp; mv $w/cg.tmp $w/cg; sleep 4" &
bg=$!
i=0
while [ ! -s "$w/cg" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
p=$cg$(sed -n 's/^0:://p' "/proc/$(cat "$w/cg")/cgroup" 2>/dev/null)
got="memory.max=$(cat $p/memory.max 2>&1) memory.swap.max=$(cat $p/memory.swap.max 2>&1) pids.max=$(cat $p/pids.max 2>&1) cpu.max=$(cat $p/cpu.max 2>&1)"
want="memory.max=67108864 memory.swap.max=0 pids.max=50 cpu.max=150000 100000"
echo "command cgroup $p: $got"
if [ "$got" = "$want" ]; then pass "limits read from outside are the ones asked"; else
	fail "limits read from outside are the ones asked" "$p: $got"; fi
case "$p" in
*/sbox-*.scope/payload) pass "the command runs in <scope>/payload" ;;
*) fail "the command runs in <scope>/payload" "$p" ;;
esac
sup=$(cat "${p%/payload}/supervisor/cgroup.procs" 2>/dev/null | grep -cx "$bg")
[ "$sup" = 1 ] && pass "the supervisor is in <scope>/supervisor, outside the limit" ||
	fail "the supervisor is in <scope>/supervisor, outside the limit" "sbox pid $bg not in it"
wait $bg
no_leftovers "no scope or cgroup left after a normal exit"

# --- 512K: sbox prints hi exactly when systemd-run does.
out=$(sb --mem 512K sh -c 'echo hi' 2>/dev/null)
st=$?
echo "sbox 512K echo hi: status $st, output '$out'"
if [ "$out" = "$(echo "$ref" | grep -x hi)" ]; then
	pass "--mem 512K: echo hi behaves as under systemd-run ('$out')"
else fail "--mem 512K: echo hi behaves as under systemd-run" "sbox '$out' (status $st), systemd-run '$ref'"; fi
err=$(sb --mem 512K sh -c "$hog" 2>&1 >/dev/null)
st=$?
if [ $st = 137 ]; then pass "--mem 512K: memory hog exits 137"; else
	fail "--mem 512K: memory hog exits 137" "status $st: $err"; fi

# --- --pids stops a fork storm.
t0=$(now_ms)
err=$(sb --pids 20 sh -c 'i=0; while [ $i -lt 200 ]; do sleep 10 & i=$((i + 1)); done; echo forked-all' 2>&1)
st=$?
t1=$(now_ms)
echo "fork storm under --pids 20: status $st in $((t1 - t0)) ms: $(echo "$err" | tail -n 2 | tr '\n' ' ')"
case "$err" in
*forked-all*) fail "--pids 20 stops a fork storm" "all 200 forks succeeded" ;;
*[Ff]ork*) [ $st != 0 ] && pass "--pids 20 stops a fork storm (status $st)" ||
	fail "--pids 20 stops a fork storm" "status 0: $err" ;;
*) fail "--pids 20 stops a fork storm" "status $st: $(echo "$err" | tail -n 2 | tr '\n' ' ')" ;;
esac
no_leftovers "no scope or cgroup left after a fork storm"

# --- sbox-runc run of a `spec --rootless` bundle with linux.resources: the same cgroup session
# (kept past create, the run waiting in its supervisor leaf), the OOM report and 137,
# state/kill from another process.
runc=$w/sbox-runc
ln -s "$(command -v sbox)" "$runc"
rt() { "$runc" --root "$w/oci-root" "$@"; }
# oci_bundle NAME RESOURCES SCRIPT: a bundle whose root is the guest's own (read-only: it has
# no busybox), running SCRIPT under RESOURCES (linux.resources as JSON).
oci_bundle() {
	mkdir -p "$w/$1" && (cd "$w/$1" && "$runc" spec --rootless) &&
		echo "$3" >"$w/$1/job" &&
		sed -i -e 's|"terminal": true|"terminal": false|' -e 's|"path": "rootfs"|"path": "/"|' \
			-e '/"args": \[/{n;s|"sh"|"sh", "'"$w/$1"'/job"|}' \
			-e 's|"linux": {|"linux": {"resources": '"$2"',|' "$w/$1/config.json"
}
oci_bundle oci-mem '{"memory": {"limit": 33554432}}' "$hog"
err=$(rt run --bundle "$w/oci-mem" m1 2>&1 >/dev/null)
st=$?
echo "sbox-runc run, memory.limit 32M hog: status $st, stderr '$err'"
[ $st = 137 ] && pass "sbox-runc run memory.limit 32M: memory hog exits 137" ||
	fail "sbox-runc run memory.limit 32M: memory hog exits 137" "status $st: $err"
case "$err" in
*"out of memory (limit 32M, peak "*) [ "$(echo "$err" | grep -c .)" = 1 ] &&
	pass "sbox-runc run memory.limit 32M: OOM kill reported in one line" ||
	fail "sbox-runc run memory.limit 32M: OOM kill reported in one line" "stderr: $err" ;;
*) fail "sbox-runc run memory.limit 32M: OOM kill reported in one line" "stderr: $err" ;;
esac
[ ! -e "$w/oci-root/m1" ] && pass "sbox-runc run memory.limit: state directory removed at the end" ||
	fail "sbox-runc run memory.limit: state directory removed at the end" "$(ls "$w/oci-root/m1")"
no_leftovers "sbox-runc run memory.limit: no scope or cgroup left after an OOM kill"

oci_bundle oci-pids '{"pids": {"limit": 20}}' 'i=0; while [ $i -lt 200 ]; do sleep 10 & i=$((i + 1)); done; echo forked-all'
err=$(rt run --bundle "$w/oci-pids" p1 2>&1)
st=$?
echo "sbox-runc run, pids.limit 20 fork storm: status $st: $(echo "$err" | tail -n 2 | tr '\n' ' ')"
case "$err" in
*forked-all*) fail "sbox-runc run pids.limit 20 refuses forks" "all 200 forks succeeded" ;;
*[Ff]ork*) [ $st != 0 ] && pass "sbox-runc run pids.limit 20 refuses forks (status $st)" ||
	fail "sbox-runc run pids.limit 20 refuses forks" "status 0: $err" ;;
*) fail "sbox-runc run pids.limit 20 refuses forks" "status $st: $(echo "$err" | tail -n 2 | tr '\n' ' ')" ;;
esac
no_leftovers "sbox-runc run pids.limit: no scope or cgroup left after a fork storm"

oci_bundle oci-state '{"memory": {"limit": 67108864}}' 'exec sleep 30'
rt run --bundle "$w/oci-state" s1 >/dev/null 2>"$w/s1.err" &
rp=$!
i=0
while [ $i -lt 100 ]; do
	sj=$(rt state s1 2>/dev/null | tr -d ' \n')
	case "$sj" in *'"status":"running"'*) break ;; esac
	sleep 0.1
	i=$((i + 1))
done
case "$sj" in
*'"pid":'[1-9]*) pass "sbox-runc state of a run with memory.limit: running, with its pid" ;;
*) fail "sbox-runc state of a run with memory.limit: running, with its pid" "$sj" ;;
esac
rt kill s1 KILL
wait $rp
st=$?
[ $st = 137 ] && pass "sbox-runc kill from another process ends a run with memory.limit (137)" ||
	fail "sbox-runc kill from another process ends a run with memory.limit (137)" "status $st: $(cat "$w/s1.err")"
[ ! -e "$w/oci-root/s1" ] && pass "sbox-runc run memory.limit: killed, its state directory removed" ||
	fail "sbox-runc run memory.limit: killed, its state directory removed" "$(ls "$w/oci-root/s1")"
no_leftovers "sbox-runc run memory.limit: no scope or cgroup left after kill"

# --- linux.resources with create/start and run --detach: the cgroup outlives the runtime's
# process; delete removes it.
# state_of ID: the status in `state`; payload_of PID: its cgroup directory (host view).
state_of() { rt state "$1" 2>/dev/null | tr -d ' \n' | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p'; }
payload_of() { echo "$cg$(sed -n 's/^0:://p' "/proc/$1/cgroup")"; }
pid_of() { rt state "$1" 2>/dev/null | tr -d ' \n' | sed -n 's/.*"pid":\([0-9]*\).*/\1/p'; }
wait_state() { # ID STATUS
	i=0
	while [ "$(state_of "$1")" != "$2" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ "$(state_of "$1")" = "$2" ]
}
oci_bundle oci-c '{"memory": {"limit": 33554432}}' "while [ ! -e $w/go-c1 ]; do sleep 0.1; done; $hog"
rt create --bundle "$w/oci-c" c1 >/dev/null 2>"$w/c1.err" && rt start c1 2>>"$w/c1.err"
st=$(state_of c1)
pid=$(pid_of c1)
p=$(payload_of "$pid")
echo "create+start memory.limit 32M: status '$st', pid $pid, cgroup $p, memory.max $(cat "$p/memory.max" 2>&1), $(cat "$w/c1.err")"
[ "$st" = running ] && pass "sbox-runc create+start with memory.limit: running" ||
	fail "sbox-runc create+start with memory.limit: running" "state '$st': $(cat "$w/c1.err")"
case "$p" in
*/sbox-*.scope/payload) [ "$(cat "$p/memory.max")" = 33554432 ] &&
	pass "sbox-runc create: the process is in the payload leaf, memory.max is the limit" ||
	fail "sbox-runc create: the process is in the payload leaf, memory.max is the limit" "$p: $(cat "$p/memory.max")" ;;
*) fail "sbox-runc create: the process is in the payload leaf, memory.max is the limit" "cgroup $p" ;;
esac
touch "$w/go-c1"
wait_state c1 stopped && pass "sbox-runc create memory.limit: the hog is OOM-killed, state stopped" ||
	fail "sbox-runc create memory.limit: the hog is OOM-killed, state stopped" "state $(state_of c1)"
rt delete c1
[ ! -e "$w/oci-root/c1" ] && [ ! -d "$p" ] && pass "sbox-runc delete after create: state and cgroup gone" ||
	fail "sbox-runc delete after create: state and cgroup gone" "$(ls -d "$w/oci-root/c1" "$p" 2>&1)"
no_leftovers "sbox-runc create memory.limit: no scope or cgroup left after delete"

# --- --systemd-cgroup with linux.cgroupsPath "slice:prefix:name" (podman's form): the scope is
# that unit in that slice of the user's systemd, the leaves inside it; delete: the unit is gone.
oci_bundle oci-cgpath '{"memory": {"limit": 33554432}}' 'exec sleep 3001'
sed -i 's|"linux": {|"linux": {"cgroupsPath": "user.slice:test:c1",|' "$w/oci-cgpath/config.json"
rt --systemd-cgroup create --bundle "$w/oci-cgpath" p1 >/dev/null 2>"$w/p1.err"
pid=$(pid_of p1)
p=$(payload_of "$pid")
u=$(systemctl --user show -p Slice -p ActiveState test-c1.scope 2>&1 | tr '\n' ' ')
echo "--systemd-cgroup create, cgroupsPath user.slice:test:c1: pid $pid, cgroup $p, memory.max $(cat "$p/memory.max" 2>&1), unit: $u$(cat "$w/p1.err")"
case "$p" in
*/user@1000.service/user.slice/test-c1.scope/payload) [ "$(cat "$p/memory.max")" = 33554432 ] &&
	pass "sbox-runc --systemd-cgroup create: in user.slice/test-c1.scope/payload (cgroupsPath), memory.max set" ||
	fail "sbox-runc --systemd-cgroup create: in user.slice/test-c1.scope/payload (cgroupsPath), memory.max set" "$p: $(cat "$p/memory.max")" ;;
*) fail "sbox-runc --systemd-cgroup create: in user.slice/test-c1.scope/payload (cgroupsPath), memory.max set" "cgroup $p: $(cat "$w/p1.err")" ;;
esac
rt --systemd-cgroup delete --force p1
i=0
while [ "$(systemctl --user show -p LoadState --value test-c1.scope 2>&1)" != not-found ] && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
u=$(systemctl --user show -p LoadState --value test-c1.scope 2>&1)
[ "$u" = not-found ] && [ ! -e "$w/oci-root/p1" ] && [ ! -d "$p" ] &&
	pass "sbox-runc delete of a cgroupsPath container: test-c1.scope gone, state gone" ||
	fail "sbox-runc delete of a cgroupsPath container: test-c1.scope gone, state gone" "LoadState $u; $(ls -d "$w/oci-root/p1" "$p" 2>&1)"

oci_bundle oci-d '{"memory": {"limit": 67108864}}' 'exec sleep 3000'
rt run --detach --bundle "$w/oci-d" d1 >/dev/null 2>"$w/d1.err"
st=$?
pid=$(pid_of d1)
p=$(payload_of "$pid")
[ $st = 0 ] && [ "$(state_of d1)" = running ] && [ "${p##*/}" = payload ] &&
	[ "$(cat "$p/memory.max")" = 67108864 ] &&
	pass "sbox-runc run --detach with memory.limit: returns, running in the payload leaf under the limit" ||
	fail "sbox-runc run --detach with memory.limit: returns, running in the payload leaf under the limit" \
		"status $st, state $(state_of d1), cgroup $p: $(cat "$w/d1.err")"
# exec joins the container's cgroup.
rt exec --detach d1 sleep 3006 2>"$w/e1.err"
sleep 0.3
ep=$(pgrep -f 'sleep 3006' | head -n1)
[ -n "$ep" ] && [ "$(payload_of "$ep")" = "$p" ] &&
	pass "sbox-runc exec in a container with memory.limit: the process is in its payload leaf" ||
	fail "sbox-runc exec in a container with memory.limit: the process is in its payload leaf" \
		"pid '$ep' in $(payload_of "$ep"), not $p: $(cat "$w/e1.err")"
rt kill d1 KILL
wait_state d1 stopped && rt delete d1 && [ ! -e "$w/oci-root/d1" ] &&
	pass "sbox-runc run --detach: kill, stopped, delete" ||
	fail "sbox-runc run --detach: kill, stopped, delete" "state $(state_of d1)"
no_leftovers "sbox-runc run --detach memory.limit: no scope or cgroup left after delete"

# delete --force of a running container under pids.limit with 20 background sleeps.
forks='i=0; while [ $i -lt 20 ]; do sleep MARK & i=$((i + 1)); done; wait'
oci_bundle oci-f '{"pids": {"limit": 40}}' "$(echo "$forks" | sed 's/MARK/3001/')"
rt run --detach --bundle "$w/oci-f" f1 2>"$w/f1.err"
i=0
while [ "$(pgrep -c -f 'sleep 3001')" -lt 20 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
n=$(pgrep -c -f 'sleep 3001')
rt delete --force f1
sleep 0.2
left=$(pgrep -c -f 'sleep 3001')
[ "$n" -ge 20 ] && [ "$left" = 0 ] && [ ! -e "$w/oci-root/f1" ] &&
	pass "sbox-runc delete --force with pids.limit: all 21 processes gone ($n sleeps before)" ||
	fail "sbox-runc delete --force with pids.limit: all 21 processes gone" "$n sleeps before, $left after: $(cat "$w/f1.err")"
no_leftovers "sbox-runc delete --force: no scope or cgroup left"

# kill --all: every process of the container's cgroup.
oci_bundle oci-k '{"pids": {"limit": 40}}' "$(echo "$forks" | sed 's/MARK/3002/')"
rt run --detach --bundle "$w/oci-k" k1 2>"$w/k1.err"
i=0
while [ "$(pgrep -c -f 'sleep 3002')" -lt 20 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
n=$(pgrep -c -f 'sleep 3002')
rt kill --all k1 KILL
sleep 0.3
left=$(pgrep -c -f 'sleep 3002')
[ "$n" -ge 20 ] && [ "$left" = 0 ] && wait_state k1 stopped &&
	pass "sbox-runc kill --all: every process of the container's cgroup ($n sleeps)" ||
	fail "sbox-runc kill --all: every process of the container's cgroup" "$n sleeps before, $left after, state $(state_of k1): $(cat "$w/k1.err")"
rt delete k1
no_leftovers "sbox-runc kill --all: no scope or cgroup left after delete"

# A container with CAP_SYS_ADMIN mounts cgroup2 (its namespace's root is payload/; a second
# mount beside its read-only /sys/fs/cgroup) and moves a process into a sub-cgroup of its own:
# delete still kills it and removes every directory.
oci_bundle oci-h '{"pids": {"limit": 40}}' \
	'mount -t cgroup2 none /dev/shm; mkdir -p /dev/shm/a/b; sleep 3004 & echo $! >/dev/shm/a/b/cgroup.procs; echo ready; wait'
sed -i 's|"CAP_KILL",|"CAP_KILL", "CAP_SYS_ADMIN",|' "$w/oci-h/config.json"
# (The container's stdio is the runtime's: its output lands in h1.out.)
rt run --detach --bundle "$w/oci-h" h1 >"$w/h1.out" 2>&1
i=0
while ! grep -q ready "$w/h1.out" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
p=$(payload_of "$(pid_of h1)")
sub=$(find "$p" -mindepth 1 -type d 2>/dev/null | tr '\n' ' ')
echo "hostile container: sub-cgroups '$sub'; its output: $(tr '\n' ' ' <"$w/h1.out")"
rt delete --force h1
i=0
while [ -d "$p" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
left=$(pgrep -c -f 'sleep 3004')
if [ -n "$sub" ]; then
	[ "$left" = 0 ] && [ ! -d "$p" ] &&
		pass "sbox-runc delete --force: sub-cgroups the container made are killed and removed" ||
		fail "sbox-runc delete --force: sub-cgroups the container made are killed and removed" "$left left, $(ls -d "$p" 2>&1)"
else
	[ "$left" = 0 ] && pass "sbox-runc delete --force: the container could make no sub-cgroup; nothing left" ||
		fail "sbox-runc delete --force: nothing left" "$left sleeps left"
fi
no_leftovers "sbox-runc delete --force of a container with sub-cgroups: no scope or cgroup left"

# The delegated origin: no systemd to ask (no bus in the environment), inside a Delegate=yes
# scope of the caller's own. create builds its group there; delete removes it, disables the
# controllers it enabled and moves the caller back out of supervisor/.
cat >"$w/deleg.sh" <<'EOS'
runc=$1 w=$2 cg=/sys/fs/cgroup
rt() { "$runc" --root "$w/oci-root" "$@"; }
own=$cg$(sed -n 's/^0:://p' /proc/self/cgroup)
before=$(cat "$own/cgroup.subtree_control")
rt create --bundle "$w/oci-g" g1 >/dev/null 2>"$w/g1.err" && rt start g1 2>>"$w/g1.err"
pid=$(rt state g1 | tr -d ' \n' | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
p=$cg$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
case "$p" in "$own"/sbox-*/payload) echo "in-group yes $(cat "$p/memory.max")" ;; *) echo "in-group no: $p under $own" ;; esac
rt delete --force g1 2>>"$w/g1.err"
[ -d "${p%/payload}" ] && echo "group-left ${p%/payload}: $(find "${p%/payload}" | tr '\n' ' ')" || echo "group-gone"
after=$(cat "$own/cgroup.subtree_control")
[ "$after" = "$before" ] && echo "subtree-back" || echo "subtree '$before' -> '$after'"
[ "$cg$(sed -n 's/^0:://p' /proc/self/cgroup)" = "$own" ] && echo "self-back" || echo "self in $(cat /proc/self/cgroup)"
EOS
oci_bundle oci-g '{"memory": {"limit": 33554432}}' 'exec sleep 3007'
out=$(systemd-run --user --scope -q -p Delegate=yes env -u DBUS_SESSION_BUS_ADDRESS -u XDG_RUNTIME_DIR \
	sh "$w/deleg.sh" "$runc" "$w" 2>&1 | tr '\n' ' ')
echo "delegated create/delete: $out $(cat "$w/g1.err")"
[ "$out" = "in-group yes 33554432 group-gone subtree-back self-back " ] &&
	pass "sbox-runc create/delete in a delegated cgroup: limit in force, everything undone" ||
	fail "sbox-runc create/delete in a delegated cgroup: limit in force, everything undone" "$out $(cat "$w/g1.err")"
[ "$(pgrep -c -f 'sleep 3007')" = 0 ] && pass "sbox-runc delete in a delegated cgroup: nothing left running" ||
	fail "sbox-runc delete in a delegated cgroup: nothing left running" "$(pgrep -a -f 'sleep 3007')"
no_leftovers "sbox-runc create in a delegated cgroup: no scope or cgroup left"

# Hooks with resources under an attached run: in order, around the container's process.
oci_bundle oci-hk '{"memory": {"limit": 67108864}}' 'sleep 0.5; echo main'
hk() { echo '{"path": "/bin/sh", "args": ["sh", "-c", "echo '"$1"' >>'"$w"'/hooks.log"]}'; }
sed -i 's|^  "ociVersion"|  "hooks": {"prestart": ['"$(hk prestart)"'], "createRuntime": ['"$(hk createRuntime)"'], "poststart": ['"$(hk poststart)"'], "poststop": ['"$(hk poststop)"']},\n  "ociVersion"|' "$w/oci-hk/config.json"
out=$(rt run --bundle "$w/oci-hk" hk1 2>"$w/hk1.err")
st=$?
got=$(tr '\n' ' ' <"$w/hooks.log" 2>/dev/null)
[ $st = 0 ] && [ "$out" = main ] && [ "$got" = "prestart createRuntime poststart poststop " ] &&
	pass "sbox-runc run with memory.limit: hooks run in order ($got), the container ran" ||
	fail "sbox-runc run with memory.limit: hooks run in order" "status $st, output '$out', hooks '$got': $(cat "$w/hk1.err")"
no_leftovers "sbox-runc run with hooks and memory.limit: no scope or cgroup left"

# pause/resume (cgroup.freeze) and ps of a container with a kept cgroup.
oci_bundle oci-p '{"pids": {"limit": 40}}' 'exec sleep 3005'
rt run --detach --bundle "$w/oci-p" p2 2>"$w/p2.err"
pid=$(pid_of p2)
ps_json=$(rt ps --format json p2 2>&1)
rt pause p2
st=$(state_of p2)
fz=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status")
rt resume p2
st2=$(state_of p2)
[ "$ps_json" = "[$pid]" ] && [ "$st" = paused ] && [ "$st2" = running ] &&
	pass "sbox-runc ps, pause, resume: [$pid], paused ($fz), running" ||
	fail "sbox-runc ps, pause, resume" "ps '$ps_json' (pid $pid), after pause '$st' ($fz), after resume '$st2': $(cat "$w/p2.err")"
rt delete --force p2
no_leftovers "sbox-runc pause/resume: no scope or cgroup left"

# --- --cpu 10% slows a busy loop several-fold.
loop='i=0; while [ $i -lt 100000 ]; do i=$((i + 1)); done'
t0=$(now_ms)
sb sh -c "$loop"
t1=$(now_ms)
sb --cpu 10% sh -c "$loop"
t2=$(now_ms)
free=$((t1 - t0))
slow=$((t2 - t1))
echo "busy loop: ${free} ms free, ${slow} ms under --cpu 10%"
if [ $slow -ge $((free * 4)) ]; then pass "--cpu 10% slows a busy loop several-fold (${free} ms -> ${slow} ms)"; else
	fail "--cpu 10% slows a busy loop several-fold" "${free} ms -> ${slow} ms"; fi

# --- Nothing left behind after SIGKILL of the command, and of sbox itself.
sb --mem 64M sh -c 'kill -9 $$'
st=$?
[ $st = 137 ] && pass "SIGKILL of the command: status 137" || fail "SIGKILL of the command: status 137" "status $st"
no_leftovers "no scope or cgroup left after SIGKILL of the command"
sbox --ro-bind / / --dev /dev --bind "$w" "$w" --mem 64M sh -c "echo \$\$ >$w/pid; exec sleep 3" &
bg=$!
i=0
while [ ! -s "$w/pid" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kill -9 $bg
wait $bg 2>/dev/null
echo "sbox SIGKILLed; scopes: $(leftovers | tr '\n' ' ')"
sleep 3.5
no_leftovers "no scope or cgroup left after SIGKILL of sbox (systemd collects it)"
rm -f "$w/pid"

# --- --unshare-cgroup: the command sees its own cgroup as the root.
out=$(sb --unshare-cgroup --mem 64M cat /proc/self/cgroup 2>&1)
[ "$out" = "0::/" ] && pass "--unshare-cgroup: the command's cgroup is its root" ||
	fail "--unshare-cgroup: the command's cgroup is its root" "$out"

# --- The command can't lift its own limit (issue 12 item 9). Inside a sandbox under --mem 16M
# --pids 64, lift.sh tries one way (own path, a search of the tree, rewriting limits, a child
# cgroup, another process's /proc/PID/root), then waits; from out here the limits are read, the
# command's cgroup checked, and a 64M allocation must then still be OOM-killed (137).
cat >"$w/lift.sh" <<'EOS'
kind=$1 d=$2 cg=/sys/fs/cgroup
# (errors go to a file: /dev/null can't be opened on a nodev mount such as --bind / /)
try() { # file value: write, and say what the kernel answered
	if (echo "$2" >"$1") 2>>"$d/err"; then echo "lift: WROTE '$2' to $1"; else
		echo "lift: refused '$2' > $1"; fi
}
# Every sbox file of the tree $1 named $2 (payload's cgroup.procs excepted).
sbox_files() { find "$1" -path '*sbox-*' -name "$2" 2>>"$d/err" | grep -v '/payload/cgroup.procs$'; }
migrate() { # tree: into every sbox leaf, then into every cgroup.procs of the user's tree
	for f in $(sbox_files "$1" cgroup.procs) \
		$(find "$1/user.slice" -name cgroup.procs 2>>"$d/err" | grep -v '/payload/cgroup.procs$'); do
		try "$f" $$
	done
}
rewrite() { # tree: every limit raised, the controllers switched off
	for n in memory.max memory.high memory.swap.max pids.max; do
		for f in $(sbox_files "$1" $n); do try "$f" max; done
	done
	for f in $(sbox_files "$1" cgroup.subtree_control); do try "$f" "-memory -pids"; done
	for f in $(find "$1/user.slice" -name memory.max 2>>"$d/err"); do try "$f" max; done
}
own=$(sed -n 's/^0:://p' /proc/self/cgroup)
echo "lift: $kind: /proc/self/cgroup is $own"
case $kind in
own)
	try "$cg${own%/payload}/supervisor/cgroup.procs" $$
	try "$cg${own%/payload}/cgroup.procs" $$
	try "$cg$own/memory.max" max ;;
search) migrate $cg ;;
limits) rewrite $cg ;;
child)
	for p in $(find $cg -path '*sbox-*' -type d -name payload 2>>"$d/err") "$cg$own"; do
		mkdir "$p/lift" 2>>"$d/err" && echo "lift: MADE $p/lift" || echo "lift: refused mkdir $p/lift"
		try "$p/lift/cgroup.procs" $$
		try "$p/lift/memory.max" max
		try "$p/lift/pids.max" max
	done ;;
procroot) # the cgroup tree in the root of a process outside the sandbox
	me=$(readlink /proc/self/ns/mnt)
	for p in /proc/[0-9]*; do
		[ "$(readlink $p/ns/mnt 2>>"$d/err")" != "$me" ] || continue
		[ -d "$p/root$cg/user.slice" ] || continue
		echo "lift: through $p/root"
		migrate "$p/root$cg"
		rewrite "$p/root$cg"
		break
	done ;;
esac
: >"$d/attacked"
while [ ! -e "$d/go" ]; do sleep 0.1; done
a=AAAAAAAAAAAAAAAA i=0
while [ $i -lt 22 ]; do a="$a$a" i=$((i + 1)); done
echo "lift: allocated 64M"
EOS
lift() { # name sbox-options...: each way, one sandbox each
	name=$1
	shift
	for kind in own search limits child procroot; do
		t="can't lift the limit ($kind) under $name"
		rm -f "$w/attacked" "$w/go" "$w/err"
		sbox "$@" --bind "$w" "$w" --mem 16M --pids 64 sh "$w/lift.sh" $kind "$w" >"$w/lift.out" 2>&1 &
		bg=$!
		i=0
		while [ ! -e "$w/attacked" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
		sup=$(sed -n 's/^0:://p' /proc/$bg/cgroup 2>/dev/null)
		scope=${sup%/supervisor}
		cmd=$(pgrep -P $bg | head -n1)
		ccg=$(sed -n 's/^0:://p' /proc/$cmd/cgroup 2>/dev/null)
		p=$cg$scope/payload
		got="memory.max=$(cat $p/memory.max 2>&1) pids.max=$(cat $p/pids.max 2>&1) subtree_control=$(cat $cg$scope/cgroup.subtree_control 2>&1)"
		touch "$w/go"
		wait $bg
		st=$?
		echo "$t: status $st; $got; command in $ccg"
		sed 's/^/  /' "$w/lift.out"
		sort -u "$w/err" 2>/dev/null | sed 's/^/  error: /'
		why=
		[ "$got" = "memory.max=16777216 pids.max=64 subtree_control=memory pids" ] || why="$why $got;"
		case "$ccg" in
		"$scope/payload" | "$scope/payload/"*) ;;
		*) why="$why the command moved to $ccg (scope $scope);" ;;
		esac
		[ $st = 137 ] || why="$why the 64M allocation ended with status $st, not 137;"
		if [ -z "$why" ]; then pass "$t"; else fail "$t" "$why $(grep WROTE "$w/lift.out" | tr '\n' ' ')"; fi
	done
}
echo "lsm: $(cat /sys/kernel/security/lsm 2>&1); cgroup2: $(grep ' cgroup2 ' /proc/self/mountinfo)"
lift "--bind / /" --bind / /
lift "--bind / / --unshare-cgroup" --bind / / --unshare-cgroup
lift "--dev-bind / /" --dev-bind / /
lift "--dev-bind / / --unshare-cgroup" --dev-bind / / --unshare-cgroup
lift "--ro-bind / / --bind /sys /sys" --ro-bind / / --bind /sys /sys
lift "--ro-bind / / --bind /sys /sys --unshare-cgroup" --ro-bind / / --bind /sys /sys --unshare-cgroup
# Not covered (README says so): a sandbox that reaches the user's systemd asks it for a new scope.
out=$(sbox --bind / / --mem 16M systemd-run --user --scope -q cat /proc/self/cgroup 2>&1)
echo "INFO with the user's systemd reachable (--bind / /), systemd-run --user --scope from inside runs in: $out" >>"$res"
no_leftovers "no scope or cgroup left after the lifting attempts"

# --- Fallback: inside a delegated subtree, no D-Bus needed.
rm -f "$w/pid"
out=$(systemd-run --user --scope -q -p Delegate=yes env -u DBUS_SESSION_BUS_ADDRESS -u XDG_RUNTIME_DIR \
	sbox --ro-bind / / --dev /dev --bind "$w" "$w" --mem 64M --pids 30 sh -c "echo \$\$ >$w/pid; sleep 1" 2>&1 &
	i=0
	while [ ! -s "$w/pid" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	c=$(sed -n 's/^0:://p' /proc/$(cat "$w/pid")/cgroup)
	echo "$c"
	cat "$cg$c/memory.max"
	wait $!)
st=$?
echo "delegated fallback: status $st: $(echo "$out" | tr '\n' ' ')"
case "$out" in
*"run-"*".scope/sbox-"*"/payload"*67108864*) pass "delegated subtree used without D-Bus" ;;
*) fail "delegated subtree used without D-Bus" "status $st: $(echo "$out" | tr '\n' ' ')" ;;
esac
no_leftovers "no cgroup left in the delegated subtree"
rm -f "$w/pid"
out=$(systemd-run --user -q -P -p Delegate=yes -p Type=exec env -u DBUS_SESSION_BUS_ADDRESS -u XDG_RUNTIME_DIR \
	/usr/local/bin/sbox --ro-bind / / --dev /dev --bind "$w" "$w" --mem 64M sh -c "echo \$\$\$\$ >$w/pid; sleep 1" 2>&1 &
	i=0
	while [ ! -s "$w/pid" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	cat /proc/$(cat "$w/pid")/cgroup
	wait $!)
st=$?
case "$out" in
*"run-"*".service/sbox-"*"/payload"*) pass "delegated service (Delegate=yes) used without D-Bus" ;;
*) fail "delegated service (Delegate=yes) used without D-Bus" "status $st: $(echo "$out" | tr '\n' ' ')" ;;
esac

# --- The doctor finds what limits need here; the man page's minimal-root example runs.
out=$(sbox --doctor 2>&1)
st=$?
case "$out" in
*"PASS  systemd user instance"*"PASS  memory limits (--mem): available"*)
	[ $st = 0 ] && pass "--doctor: memory limits available" ||
		fail "--doctor: memory limits available" "status $st" ;;
*) fail "--doctor: memory limits available" "status $st: $(echo "$out" | tr '\n' ' ')" ;;
esac
sbox --mkroot "$w/malutka" sh >/dev/null
out=$(sbox --ro-bind "$w/malutka" / --mem 512K sh -c 'echo hi' 2>/dev/null)
[ "$out" = "$(echo "$ref" | grep -x hi)" ] && pass "--mkroot root, --mem 512K: echo hi as under systemd-run" ||
	fail "--mkroot root, --mem 512K: echo hi as under systemd-run" "sbox '$out', systemd-run '$ref'"

# --- Timing (issue 8): a --mem sandbox against systemd-run starting the same command in a scope
# with the same limit, and the same sandbox without limits (the difference is what --mem's scope
# set-up costs); alternating, medians of 41 each. Reported as an INFO line; a failure only on a
# gross regression (more than twice systemd-run's median).
: >"$w/t.run" && : >"$w/t.mem" && : >"$w/t.plain"
i=0
while [ $i -lt 41 ]; do
	us_of systemd-run --user --scope -q -p MemoryMax=64M true >>"$w/t.run"
	us_of sbox --ro-bind / / --mem 64M true >>"$w/t.mem"
	us_of sbox --ro-bind / / true >>"$w/t.plain"
	i=$((i + 1))
done
r=$(median <"$w/t.run")
m=$(median <"$w/t.mem")
p=$(median <"$w/t.plain")
ratio() { awk "BEGIN {printf \"%.2f\", $1 / $2}"; }
info="systemd-run --user --scope -p MemoryMax=64M true: $r us; sbox --ro-bind / / --mem 64M true:\
 $m us (ratio $(ratio "$m" "$r")); sbox --ro-bind / / true: $p us; --mem set-up (difference):\
 $((m - p)) us (ratio $(ratio "$((m - p))" "$r")); medians of 41, TCG guest"
echo "INFO $info" >>"$res"
[ "$m" -le $((2 * r)) ] && pass "--mem start-up within 2x systemd-run's" ||
	fail "--mem start-up within 2x systemd-run's" "$info"
# What making the cgroup2 mounts read-only costs: -v times the step (medians of 21), beside the
# whole root's build.
for o in "--ro-bind / /" "--bind / /"; do
	: >"$w/t.ro" && : >"$w/t.build"
	i=0
	while [ $i -lt 21 ]; do
		sbox -v $o --mem 64M true 2>"$w/v" >/dev/null
		sed -n 's/^sbox: cgroup mounts read-only: \([0-9.]*\) ms$/\1/p' "$w/v" >>"$w/t.ro"
		sed -n 's/^sbox: build root: \([0-9.]*\) ms$/\1/p' "$w/v" >>"$w/t.build"
		i=$((i + 1))
	done
	echo "INFO sbox -v $o --mem 64M true: cgroup mounts read-only $(median <"$w/t.ro") ms, build root $(median <"$w/t.build") ms (medians of 21; $(grep -c . /proc/self/mountinfo) host mounts)" >>"$res"
done
sbox -v --bind / / --mem 64M true 2>&1 | sed 's/^/-v: /'

# --- Errors, one line each, naming the fix.
out=$(env -u DBUS_SESSION_BUS_ADDRESS -u XDG_RUNTIME_DIR sbox --ro-bind / / --mem 64M true 2>&1)
st=$?
case "$out" in
"sbox: --mem: \$XDG_RUNTIME_DIR/bus: no user D-Bus"*) [ $st != 0 ] && [ "$(echo "$out" | grep -c .)" = 1 ] &&
	pass "no user bus: one-line error" || fail "no user bus: one-line error" "status $st: $out" ;;
*) fail "no user bus: one-line error" "status $st: $out" ;;
esac
out=$(env -u XDG_RUNTIME_DIR DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent sbox --ro-bind / / --pids 10 true 2>&1)
case "$out" in
"sbox: --pids: unix:path=/nonexistent: cannot connect to the user D-Bus"*) pass "unreachable bus: one-line error" ;;
*) fail "unreachable bus: one-line error" "$out" ;;
esac
no_leftovers "no scope or cgroup left after all tests"
rm -rf "$w"
