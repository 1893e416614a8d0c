# sbox-runc against crun in the guest (systemd, cgroup v2), as the lingering user "tester" in a
# login session: the same trivial bundle timed under both, then rootless podman with each as
# its runtime (echo, --memory with a hog). Run by guest-root.sh after guest-test.sh; one line
# per test appended to $1 ("PASS name", "FAIL name: why", "INFO ..." for the figures).
res=$1
. "$(dirname "$0")/guest-lib.sh"
w=$(mktemp -d)
chmod 755 "$w"
mkdir -p "$w/bin" "$w/b/rootfs/bin"
ln -s "$(command -v sbox)" "$w/bin/sbox-runc"
S="$w/bin/sbox-runc --root $w/state-sbox"
C="crun --root $w/state-crun"
echo "crun: $(crun --version | head -n1); podman: $(podman --version)"
hog='a=AAAAAAAAAAAAAAAA; while :; do a="$a$a"; done'

# --- Limits from podman's place: an OCI runtime under rootless podman runs as uid 0 in a user
# namespace of the user's. systemd (its private socket) and dbus-daemon (the user bus) compare
# the uid a client claims with the one they see (1000): sbox must not claim 0. Checked with
# `unshare -r`, each way to systemd; the exit record shows the memory cgroup was used.
for via in "private socket" "user bus"; do
	t="sbox --mem as uid 0 of a user namespace (unshare -r), over systemd's $via"
	[ "$via" = "user bus" ] && e="env XDG_RUNTIME_DIR=/nonexistent DBUS_SESSION_BUS_ADDRESS=unix:path=$XDG_RUNTIME_DIR/bus" || e=
	err=$($e unshare -r sbox --ro-bind / / --mem 64M --json-status-fd 3 sh -c 'echo $(id -u) >&2' 3>"$w/ns-st" 2>&1)
	st=$?
	echo "$t: status $st: $err; $(tail -n 1 "$w/ns-st")"
	case "$(tail -n 1 "$w/ns-st")" in
	*'"exit-code": 0, "oom-kill": 0, "memory-peak": '[1-9]*) [ $st = 0 ] && [ "$err" = 0 ] ;;
	*) false ;;
	esac
	check "$t" $? "status $st: $err"
done
err=$(unshare -r sbox --ro-bind / / --dev /dev --mem 16M sh -c "$hog" 2>&1 >/dev/null)
st=$?
[ $st = 137 ] && case "$err" in *"out of memory (limit 16M, peak "*) true ;; *) false ;; esac
check "sbox --mem 16M as uid 0 of a user namespace: a hog is OOM-killed and reported" $? "status $st: $err"

# The bundle: a busybox root (the host's static busybox, through the share), `spec --rootless`,
# process `true`. The same directory for both runtimes.
cp /mnt/host/busybox "$w/b/rootfs/bin/busybox"
for a in sh true echo head tail cat id sleep; do ln -s busybox "$w/b/rootfs/bin/$a"; done
(cd "$w/b" && "$w/bin/sbox-runc" spec --rootless)
sed -i -e 's|"terminal": true|"terminal": false|' \
	-e '/"args": \[/{n;s|"sh"|"true"|}' "$w/b/config.json"
grep -A2 '"args"' "$w/b/config.json"
cd "$w/b" || exit 1

# --- Both runtimes run the bundle (crun is the reference: what it does, sbox-runc must).
for rt in crun sbox-runc; do
	[ $rt = crun ] && r=$C || r=$S
	out=$($r run c-$rt 2>&1)
	st=$?
	echo "$rt run: status $st: $out"
	check "oci-vm: $rt runs the busybox bundle" $st "status $st: $out"
	out=$($r create c2-$rt 2>&1 && $r start c2-$rt 2>&1 && $r delete --force c2-$rt 2>&1)
	st=$?
	check "oci-vm: $rt create, start, delete" $st "status $st: $out"
done

# --- The bench: create+start+delete and run, interleaved (crun, sbox-runc, crun...), medians
# of N rounds after 3 warm-up rounds. A failure only on a gross miss (sbox-runc slower than
# crun); the goal (issue 15) is 0.5.
N=41
ratio() { awk "BEGIN {printf \"%.2f\", $1 / $2}"; }
csd() { $1 create o2 && $1 start o2 && $1 delete --force o2; }
for f in csd-crun csd-sbox run-crun run-sbox; do : >"$w/t.$f"; done
i=0
while [ $i -lt $((N + 3)) ]; do
	a=$(us_of csd "$C") b=$(us_of csd "$S") c=$(us_of $C run o1) d=$(us_of $S run o1)
	if [ $i -ge 3 ]; then
		echo "$a" >>"$w/t.csd-crun" && echo "$b" >>"$w/t.csd-sbox"
		echo "$c" >>"$w/t.run-crun" && echo "$d" >>"$w/t.run-sbox"
	fi
	i=$((i + 1))
done
for k in csd run; do
	cr=$(median <"$w/t.$k-crun") sb=$(median <"$w/t.$k-sbox")
	[ $k = csd ] && what="create+start+delete --force" || what=run
	r=$(ratio "$sb" "$cr")
	echo "INFO oci bench in the VM, $what of a trivial bundle (busybox, true): crun $cr us, sbox-runc $sb us, ratio $r (goal 0.5); medians of $N, interleaved, TCG guest" >>"$res"
	ok=$(awk "BEGIN {print ($r <= 1.0) ? 0 : 1}")
	check "oci-vm: $what within crun's time (ratio $r)" "$ok" "crun $cr us, sbox-runc $sb us"
done
[ -z "$(ls "$w/state-sbox" 2>/dev/null)" ] && [ -z "$(ls "$w/state-crun" 2>/dev/null)" ]
check "oci-vm: no container state left after the bench" $? "$(ls "$w/state-sbox" "$w/state-crun" 2>&1 | tr '\n' ' ')"


# --- podman with each runtime: crun (by name) and sbox-runc (by path). An image made offline
# (`podman import` of the busybox root); no network; podman's defaults otherwise (its
# storage, the systemd cgroup manager: it passes --systemd-cgroup and a cgroupsPath
# "SLICE:libpod:ID"). For the --memory case a spy runtime in front of each (guest-spy.sh)
# keeps what podman passed: the arguments, config.json, the runtime's uid and cgroup.
mkdir -p "$w/cfg/containers" "$w/spy"
for rt in crun sbox-runc; do
	[ $rt = crun ] && real=$(command -v crun) || real=$w/bin/sbox-runc
	printf '#!/bin/sh\nexec sh /mnt/host/guest-spy.sh %s %s "$@"\n' "$real" "$w/spy/$rt" >"$w/bin/spy-$rt"
	chmod 755 "$w/bin/spy-$rt"
done
# (podman's default pids_limit, 2048 where cgroups are delegated, is a linux.resources limit on
# every container: echo goes through create with resources too.)
printf '[containers]\nnetns = "none"\n[engine]\nevents_logger = "file"\nruntime_supports_json = ["crun", "sbox-runc", "spy-crun", "spy-sbox-runc"]\n' \
	>"$w/cfg/containers/containers.conf"
export XDG_CONFIG_HOME="$w/cfg"
tar -C "$w/b/rootfs" -cf "$w/bb.tar" .
podman import "$w/bb.tar" localhost/sbox-bb >/dev/null 2>"$w/import.err"
check "podman-vm: import of a busybox image" $? "$(tail -n 1 "$w/import.err")"
pm() { # runtime podman-args...
	_r=$1
	shift
	case $_r in sbox-runc | spy-*) _r=$w/bin/$_r ;; esac
	timeout -k 5 120 podman --runtime "$_r" "$@"
}
for rt in crun sbox-runc; do
	out=$(pm $rt run --rm localhost/sbox-bb echo hi 2>"$w/pm.err")
	st=$?
	echo "podman --runtime $rt run --rm echo hi: status $st: $out; $(tr '\n' ' ' <"$w/pm.err")"
	[ $st = 0 ] && [ "$out" = hi ]
	check "podman-vm: --runtime $rt run --rm IMG echo hi" $? "status $st: $out $(tail -n 2 "$w/pm.err" | tr '\n' ' ')"
done

# --memory 32m and a hog: crun's container is OOM-killed (podman's status 137; podman 4.3 with
# crun reports OOMKilled false here: conmon does not see the kill). sbox-runc's must show what
# crun's does.
for rt in crun sbox-runc; do
	pm spy-$rt --log-level=debug run --name mem-$rt --memory 32m localhost/sbox-bb sh -c "$hog" \
		>/dev/null 2>"$w/mem-$rt.err"
	st=$?
	oom=$(pm $rt inspect -f '{{.State.OOMKilled}}' mem-$rt 2>&1)
	pm $rt rm -f mem-$rt >/dev/null 2>&1
	echo "podman --runtime $rt --memory 32m hog: status $st, OOMKilled $oom"
	grep -iE 'level=(error|warn)|cgroup|conmon' "$w/mem-$rt.err" | tail -n 25 | cut -c1-400
	echo "what podman passed to $rt:"
	sed 's/^/  | /' "$w/spy/$rt.log" 2>/dev/null | cut -c1-600
	c=$w/spy/$rt.config.json
	echo "  cgroupsPath $(grep -o '"cgroupsPath":"[^"]*"' "$c"); $(grep -o '"resources":{.*}},' "$c" | cut -c1-300)"
	echo "  namespaces $(grep -o '"namespaces":\[[^]]*\]' "$c"); $(grep -o '"uidMappings":\[[^]]*\]' "$c")"
	why="$(grep -E 'level=error|^Error' "$w/mem-$rt.err" | tail -n 2 | cut -c1-300 | tr '\n' ' ')"
	if [ $rt = crun ]; then
		ref="status $st, OOMKilled $oom"
		[ $st = 137 ]
		check "podman-vm: --runtime crun --memory 32m: a hog is OOM-killed (137; $ref)" $? "$ref: $why"
	else
		[ "status $st, OOMKilled $oom" = "$ref" ]
		check "podman-vm: --runtime sbox-runc --memory 32m: a hog ends as under crun ($ref)" $? \
			"status $st, OOMKilled $oom: $why"
	fi
done
# Where each runtime puts a container with a limit (crun: the scope cgroupsPath names).
for rt in crun sbox-runc; do
	pm $rt run -d --name cg-$rt --memory 32m localhost/sbox-bb sleep 100 >/dev/null 2>"$w/cg.err"
	p=$(pm $rt inspect -f '{{.State.Pid}}' cg-$rt 2>/dev/null)
	c=$(sed -n 's/^0:://p' /proc/$p/cgroup 2>/dev/null)
	id=$(pm $rt inspect -f '{{.Id}}' cg-$rt 2>/dev/null)
	d=$(systemctl --user show -p Delegate -p DelegateControllers "libpod-conmon-$id.scope" 2>&1 | tr '\n' ' ')
	echo "INFO podman --runtime $rt run -d --memory 32m: the container's cgroup is $c (memory.max $(cat /sys/fs/cgroup$c/memory.max 2>&1)); conmon's scope: $d$(tail -n 1 "$w/cg.err")" >>"$res"
	if [ $rt = sbox-runc ]; then
		# podman's cgroupsPath "user.slice:libpod:ID" names the scope (podman looks there).
		case "$c" in */user.slice/libpod-$id.scope/payload) true ;; *) false ;; esac
		check "podman-vm: --runtime sbox-runc --memory 32m: the container is in user.slice/libpod-ID.scope" $? "cgroup $c"
	fi
	pm $rt rm -f -t 0 cg-$rt >/dev/null 2>&1
done
echo "user cgroups after the --memory cases:"
find /sys/fs/cgroup/user.slice/user-1000.slice -name '*libpod*' -o -name 'sbox-*' | sed 's/^/  /'

# podman run --rm wall time with each runtime, interleaved, medians of 9 (after one each).
: >"$w/t.pm-crun" && : >"$w/t.pm-sbox"
i=0
while [ $i -lt 10 ]; do
	a=$(us_of pm crun run --rm localhost/sbox-bb true) b=$(us_of pm sbox-runc run --rm localhost/sbox-bb true)
	[ $i -ge 1 ] && echo "$a" >>"$w/t.pm-crun" && echo "$b" >>"$w/t.pm-sbox"
	i=$((i + 1))
done
cr=$(median <"$w/t.pm-crun") sb=$(median <"$w/t.pm-sbox")
echo "INFO podman run --rm IMG true in the VM: --runtime crun $cr us, sbox-runc $sb us, ratio $(ratio "$sb" "$cr"); medians of 9, interleaved, TCG guest" >>"$res"
left=$(podman ps -aq 2>&1)
[ -z "$left" ]
check "podman-vm: no container left" $? "$left"
podman system reset -f >/dev/null 2>&1
cd / && rm -rf "$w"
