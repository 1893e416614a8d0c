#!/usr/bin/env bash
# sbox as an OCI runtime against runc, in the same run, as an unprivileged user (hyperfine,
# medians; ratios with bench/ratio.py, runc's the base):
#   o1  `run` of a trivial bundle (busybox root from `sbox --mkroot --busybox`, `spec
#       --rootless`, process `true`): create, start, wait and delete in one call
#   o2  the same as engines call it: `create`, `start`, then `delete --force`
#   o3  `podman run --rm IMG true` with --runtime runc and with the sbox-runc link by path
#       (an imported busybox image, vfs storage, --network none; under catatonit, see
#       tests/clients/podman.sh); skipped without podman
# Usage:  bench/oci.sh [SBOX] [RUNS]   (default: the release build, 30 runs)
# As root the bundle cases run as uid 4321 and podman as the user `sboxpod` (created, with
# /etc/subuid and /etc/subgid entries, by tests/clients/podman.sh's rules).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sbox=${1:-$here/../target/$(rustc --print host-tuple)/release/sbox}
runs=${2:-30}
for p in hyperfine runc; do
	command -v $p >/dev/null || {
		echo "bench/oci.sh: needs $p"
		exit 1
	}
done
T=$(mktemp -d /tmp/sbox-oci-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
chmod 755 "$T"
mkdir -p "$T/bin" "$T/b" "$T/state-sbox" "$T/state-runc"
cp "$sbox" "$T/bin/sbox"
ln -s sbox "$T/bin/sbox-runc"
as=()
if [ "$(id -u)" = 0 ]; then
	chown -R 4321:4321 "$T"
	as=(setpriv --reuid 4321 --regid 4321 --clear-groups env HOME=/ XDG_RUNTIME_DIR="$T")
fi
(cd "$T/b" && "${as[@]}" "$T/bin/sbox" --mkroot rootfs --busybox >/dev/null &&
	"${as[@]}" "$T/bin/sbox-runc" spec --rootless)
python3 - "$T/b/config.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["true"]
json.dump(c, open(sys.argv[1], "w"))
EOF
[ ${#as[@]} -eq 0 ] || chown -R 4321:4321 "$T"
S="$T/bin/sbox-runc --root $T/state-sbox" R="runc --root $T/state-runc"
cd "$T/b"
"${as[@]}" hyperfine -N -w 3 -r "$runs" --export-json "$T/o1.json" \
	-n runc "$R run o1" -n sbox-runc "$S run o1" >/dev/null
"${as[@]}" hyperfine -w 3 -r "$runs" --export-json "$T/o2.json" \
	-n runc "$R create o2 && $R start o2 && $R delete --force o2" \
	-n sbox-runc "$S create o2 && $S start o2 && $S delete --force o2" >/dev/null
echo "| case | command | median (ms) | ratio to runc |"
echo "|---|---|---|---|"
python3 "$here/ratio.py" "$T/o1.json" --label o1
python3 "$here/ratio.py" "$T/o2.json" --label o2

command -v podman >/dev/null && command -v catatonit >/dev/null || {
	echo "o3: skipped (no podman or catatonit)"
	exit 0
}
if [ "$(id -u)" = 0 ]; then
	id -u sboxpod >/dev/null 2>&1 ||
		useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
			--user-group sboxpod
	for f in /etc/subuid /etc/subgid; do
		grep -q "^sboxpod:" "$f" 2>/dev/null || echo "sboxpod:300000:65536" >>"$f"
	done
	pu=(setpriv --reuid "$(id -u sboxpod)" --regid "$(id -g sboxpod)" --clear-groups)
	chown -R sboxpod "$T"
else
	pu=()
fi
mkdir -p "$T/p/home" "$T/p/run" "$T/p/cfg/containers" "$T/p/img/bin"
printf '[storage]\ndriver = "vfs"\ngraphroot = "%s"\nrunroot = "%s"\n' \
	"$T/p/home/storage" "$T/p/run/storage" >"$T/p/cfg/containers/storage.conf"
printf '[containers]\nnetns = "none"\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nruntime_supports_json = ["runc", "sbox-runc"]\n[engine.runtimes]\nsbox-runc = ["%s"]\n' \
	"$T/bin/sbox-runc" >"$T/p/cfg/containers/containers.conf"
cp /bin/busybox "$T/p/img/bin/" && ln -s busybox "$T/p/img/bin/true"
tar -C "$T/p/img" -cf "$T/p/bb.tar" .
[ ${#pu[@]} -eq 0 ] || chown -R sboxpod "$T/p"
penv=(env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME="$T/p/home" XDG_RUNTIME_DIR="$T/p/run"
	XDG_CONFIG_HOME="$T/p/cfg")
"${pu[@]}" "${penv[@]}" podman import "$T/p/bb.tar" localhost/bench-bb >/dev/null
cd "$T/p"
"${pu[@]}" "${penv[@]}" hyperfine -N -w 2 -r "$runs" --export-json "$T/p/o3.json" \
	-n runc "catatonit -- podman --runtime runc run --rm localhost/bench-bb true" \
	-n sbox-runc "catatonit -- podman --runtime $T/bin/sbox-runc run --rm localhost/bench-bb true" >/dev/null
python3 "$here/ratio.py" "$T/p/o3.json" --label o3
"${pu[@]}" "${penv[@]}" podman system reset -f >/dev/null 2>&1 || true
# podman's pause process (it holds podman's user namespace) would outlive the scratch.
[ -f "$T/p/run/libpod/tmp/pause.pid" ] && kill "$(cat "$T/p/run/libpod/tmp/pause.pid")" 2>/dev/null || true
