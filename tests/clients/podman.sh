#!/usr/bin/env bash
# podman as a real client of sbox's OCI runtime (the `sbox-runc` link), with Debian's runc as
# the reference: every case runs once with `--runtime runc` and once with `--runtime sbox-runc`,
# as an unprivileged user, and must observe the same thing both times (exit statuses, outputs,
# files on the host). The image is made offline (`podman import` of a busybox tarball). One
# line per case, then "N passed, N failed"; non-zero status on any failure.
#
# Usage:  tests/clients/podman.sh [SBOX]   (default: target/<host tuple>/release/sbox)
# Environment: CI (a missing prerequisite fails instead of skipping), SBOX_PODMAN_KEEP=1 (keep
# the scratch directory).
# As root, podman runs as a system user `sboxpod` (created if missing), with /etc/subuid and
# /etc/subgid entries added for it if it has none; otherwise as the calling user, whose entries
# must exist.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sbox=${1:-$here/../../target/$(rustc --print host-tuple)/release/sbox}

missing=()
for p in podman conmon runc newuidmap newgidmap catatonit; do
	command -v "$p" >/dev/null || missing+=("$p")
done
[ -x /bin/busybox ] || missing+=(busybox-static)
[ -x "$sbox" ] || missing+=("$sbox (cargo build --release first)")
if [ ${#missing[@]} -gt 0 ]; then
	echo "SKIPPED: clients/podman: missing ${missing[*]}"
	if [ -n "${CI:-}" ]; then
		echo "0 passed, 1 failed"
		exit 1
	fi
	exit 0
fi

T=$(mktemp -d /tmp/sbox-podman.XXXXXX)
chmod 0755 "$T"
mkdir -p "$T/bin" "$T/home" "$T/run" "$T/cfg/containers" "$T/img/r" "$T/obs" "$T/vol"
cp "$sbox" "$T/bin/sbox"
ln -s sbox "$T/bin/sbox-runc"

if [ "$(id -u)" = 0 ]; then
	id -u sboxpod >/dev/null 2>&1 ||
		useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
			--user-group sboxpod
	user=sboxpod
	for f in /etc/subuid /etc/subgid; do
		grep -q "^$user:" "$f" 2>/dev/null || echo "$user:300000:65536" >>"$f"
	done
	as_user=(setpriv --reuid "$(id -u $user)" --regid "$(id -g $user)" --clear-groups)
else
	user=$(id -un)
	as_user=()
fi

cat >"$T/cfg/containers/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$T/home/storage"
runroot = "$T/run/storage"
EOF
# The configuration README.md gives: the runtime by path, its JSON log and --cgroups disabled.
cat >"$T/cfg/containers/containers.conf" <<EOF
[containers]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime_supports_json = ["runc", "sbox-runc"]
runtime_supports_nocgroup = ["sbox-runc"]
[engine.runtimes]
sbox-runc = ["$T/bin/sbox-runc"]
EOF
cat >"$T/seccomp.json" <<EOF
{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
 "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
EOF
# The image: busybox and its applets, a passwd with root and nobody.
r=$T/img/r
mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/proc" "$r/sys" "$r/dev"
cp /bin/busybox "$r/bin/"
for a in sh echo id cat ls sleep true hostname touch mkdir grep wc pwd tty test head; do
	ln -s busybox "$r/bin/$a"
done
printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$r/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' >"$r/etc/group"
tar -C "$r" -cf "$T/img/busybox.tar" .
chown -R "$user" "$T"

cleanup() {
	pm runc rm -af >/dev/null 2>&1
	# podman's pause process (it holds podman's user namespace) would outlive the scratch.
	[ -f "$T/run/libpod/tmp/pause.pid" ] && kill "$(cat "$T/run/libpod/tmp/pause.pid")" 2>/dev/null
	if [ "${SBOX_PODMAN_KEEP:-}" = 1 ]; then echo "podman: kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

# pm RUNTIME ARGS...: podman as the user, with this scratch configuration. Under catatonit, a
# subreaper: conmon double-forks, and podman waits (up to 20 s) until its exited conmon is
# reaped, which a slow pid 1 (a container's init) may not do at once. sbox-runc is named by
# its path: conmon's exit command (`podman container cleanup`) runs without this scratch
# XDG_CONFIG_HOME, where a runtime's name would not resolve (podman then waits 20 s).
pm() {
	local rt=$1
	shift
	[ "$rt" = sbox-runc ] && rt=$T/bin/sbox-runc
	env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME="$T/home" \
		XDG_RUNTIME_DIR="$T/run" XDG_CONFIG_HOME="$T/cfg" \
		"${as_user[@]}" timeout -k 5 60 catatonit -- podman --runtime "$rt" "$@"
}
if ! pm runc import "$T/img/busybox.tar" localhost/sbox-bb >/dev/null 2>"$T/import.err"; then
	echo "FAIL podman/import: $(tail -n 1 "$T/import.err")"
	echo "0 passed, 1 failed"
	exit 1
fi

# case NAME PODMAN-ARGS...: `podman run --rm` with these arguments; observes the status and
# stdout (stderr is the runtime's own wording, kept for a human in NAME.err).
case_run() {
	local name=$1 rt=$2
	shift 2
	local o=$T/obs/$rt/$name
	mkdir -p "$T/obs/$rt"
	pm "$rt" run --rm "$@" >"$o.out" 2>"$o.err" </dev/null
	echo "status: $?" >"$o"
	sed 's/^/  | /' "$o.out" >>"$o"
}

# The cases, under one runtime.
cases() {
	local rt=$1 img=localhost/sbox-bb
	case_run echo "$rt" $img echo hi
	case_run exit-7 "$rt" $img sh -c 'exit 7'
	case_run not-found-127 "$rt" $img nosuch-program
	case_run not-executable-126 "$rt" $img /etc/passwd
	case_run pid-1 "$rt" $img sh -c 'echo $$'
	case_run capabilities "$rt" $img grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status
	case_run cap-drop-all "$rt" --cap-drop ALL $img grep -E '^Cap(Prm|Eff|Bnd)' /proc/self/status
	case_run user "$rt" --user 65534:65534 $img id
	case_run env-workdir "$rt" -e FOO=bar -w /tmp $img sh -c 'echo $FOO; pwd'
	case_run hostname "$rt" --hostname box1 $img hostname
	case_run read-only "$rt" --read-only $img sh -c 'touch /x 2>/dev/null; echo $?; touch /tmp/y; echo $?'
	case_run masked-paths "$rt" $img sh -c 'wc -c < /proc/kcore; ls /proc/acpi 2>/dev/null | wc -l'
	case_run seccomp "$rt" --security-opt seccomp="$T/seccomp.json" $img sh -c 'mkdir /tmp/d 2>/dev/null; echo $?'
	case_run tty "$rt" -t $img sh -c 'test -t 0 && test -t 1 && echo tty'
	rm -f "$T/vol/f"
	case_run volume "$rt" -v "$T/vol:/data" $img sh -c 'echo written > /data/f; cat /data/f'
	echo "host sees: $(cat "$T/vol/f" 2>/dev/null)" >>"$T/obs/$rt/volume"
	# A long-running container: exec into it, stop it, remove it.
	local o=$T/obs/$rt/exec-stop-rm
	{
		pm "$rt" run -d --name sbox-life localhost/sbox-bb sleep 1000 >/dev/null
		echo "run -d: $?"
		echo "exec: $(pm "$rt" exec sbox-life echo inside) $?"
		echo "exec as nobody: $(pm "$rt" exec --user 65534 sbox-life id -u) $?"
		pm "$rt" stop -t 1 sbox-life >/dev/null
		echo "stop: $?"
		pm "$rt" rm sbox-life >/dev/null
		echo "rm: $?"
	} >"$o" 2>"$o.err"
}

passed=0 failed=0
cases runc
cases sbox-runc
for f in "$T"/obs/runc/*; do
	case $f in *.out | *.err) continue ;; esac
	name=${f##*/}
	if cmp -s "$f" "$T/obs/sbox-runc/$name"; then
		echo "PASS podman/$name"
		passed=$((passed + 1))
	else
		echo "FAIL podman/$name: sbox-runc differs from runc (- runc, + sbox-runc):"
		diff -U0 "$f" "$T/obs/sbox-runc/$name" | grep '^[-+][^-+]' | sed 's/^/    /'
		head -n 3 "$T/obs/sbox-runc/$name.err" | cut -c1-300 | sed 's/^/    . /'
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
