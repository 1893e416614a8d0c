#!/usr/bin/env bash
# Regenerates bench/hot-symbols.txt, the functions two typical starts run in the
# supervisor, which build.rs hands to the linker (lld --symbol-ordering-file) so that they sit
# together at the start of .text. Why: the kernel maps a file's text by 64 kB fault-around
# windows (and whole large page-cache folios), and the ~180 kB of code a start runs was spread
# over all 19 windows of the 1.2 MB text, so all of it counted in the supervisor's RSS; grouped,
# about 250 kB of it does (bench/run.sh f). Run as root after `cargo build --release`, then
# rebuild; the names carry hashes that change with the toolchain or dependencies, and a name that
# no longer exists is skipped. Takes about two minutes (one ptrace single-step per instruction).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../target/$(rustc --print host-tuple)/release/sbox}
uid=${BENCH_UID:-$(id -u sboxtest 2>/dev/null || echo 4321)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -O2 -o "$tmp/sstep" "$here/sstep.c"
install -m 755 "$bin" "$tmp/sbox"
chmod 755 "$tmp"
# Two starts (bench/run.sh a and b, the latter without seccomp), traced in parallel.
(cd "$tmp" && ./sstep hits1 "$uid" "$tmp/sbox" --ro-bind / / true) &
(cd "$tmp" && ./sstep hits2 "$uid" "$tmp/sbox" --ro-bind / / --proc /proc --dev /dev \
    --unshare-all --die-with-parent --seccomp-profile none --allow-userns true) &
wait %1 && wait %2
cat "$tmp/hits1" "$tmp/hits2" >"$tmp/hits"
python3 - "$tmp/sbox" "$tmp/hits" >"$here/hot-symbols.txt" <<'PY'
import bisect, subprocess, sys
binf, hits = sys.argv[1], sys.argv[2]
out = lambda *a: subprocess.run(a, capture_output=True, text=True, check=True).stdout
# file offset -> address: the executable LOAD segment's vaddr - offset
for l in out("readelf", "-lW", binf).splitlines():
    p = l.split()
    if p and p[0] == "LOAD" and "E" in p[-2]:
        delta = int(p[2], 16) - int(p[1], 16)
syms = sorted((int(p[0], 16), int(p[1], 16), p[3]) for p in
              (l.split() for l in out("nm", "--defined-only", "-S", binf).splitlines())
              if len(p) == 4 and p[2] in "tTwW")
starts = [s[0] for s in syms]
used = {}
for l in open(hits):
    a = int(l, 16) + delta
    i = bisect.bisect_right(starts, a) - 1
    if i >= 0 and a < syms[i][0] + syms[i][1]:
        used.setdefault(syms[i][2], syms[i][0])
for name in sorted(used, key=used.get):
    print(name)
PY
wc -l "$here/hot-symbols.txt"
