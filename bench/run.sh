#!/usr/bin/env bash
# Side-by-side timing of sbox against Debian's bubblewrap (issue 8).
#
#   bench/run.sh [--quick] [--interleave] [--only a,b,...] [--also SBOX2] [SBOX]
#
# SBOX defaults to target/<host tuple>/release/sbox (`cargo build --release`); --also adds a second build of sbox to a, b, c, f and g
# under the label "sbox2" (e.g. a dynamically linked build).
#
# Every comparison is one hyperfine run (or one loop) holding both tools, and is reported as
# medians and the ratio of medians: absolute times on a shared machine mean little. With
# --interleave, a, b and c alternate the commands run by run (interleave.py) instead of
# hyperfine's one batch per command: steadier ratios when others load the machine.
#   a  --ro-bind / / true
#   b  --ro-bind / / --proc /proc --dev /dev --unshare-all --die-with-parent true
#   c  a root assembled from 20 bind mounts
#   d  seccomp cost: millions of getppid / ioctl calls under none, an allow-all BPF program
#      (the kernel's floor for any filter), default and strict
#   e  make -j2 of a small C project, bare and in a sandbox
#   f  peak RSS (VmHWM) of the outer process while the sandbox sleeps
#   g  32 concurrent sandboxes: throughput and failures
#   p  `--profile make true` against the same sandbox given as options (profile-argv.py
#      translates its --explain), from a project directory with an empty home (issue 12:
#      <= 1.10); BENCH_MAX_PROFILE: its own regression bound (CI: 1.5)
# Needs: hyperfine, bwrap, gcc, make, python3. Run it as a normal user; as root it copies
# itself and sbox to a temporary directory and re-runs as $BENCH_UID (default: the uid of
# sboxtest, else 4321). Results (hyperfine JSON, a markdown table) go to $BENCH_OUT (default:
# a new directory under /tmp), the table to stdout too.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
quick=0
interleave=0
sbox2=
only=a,b,c,d,e,f,g,p
args=()
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --interleave) interleave=1 ;;
    --only) only=$2; shift ;;
    --also) sbox2=$2; shift ;;
    *) args+=("$1") ;;
    esac
    shift
done
sbox=${args[0]:-$here/../target/$(rustc --print host-tuple)/release/sbox}
bwrap=${BWRAP:-/usr/bin/bwrap}

if [ "$(id -u)" = 0 ]; then
    uid=${BENCH_UID:-$(id -u sboxtest 2>/dev/null || echo 4321)}
    tmp=$(mktemp -d /tmp/sbox-bench.XXXXXX)
    cp -r "$here" "$tmp/bench"
    cp -r "$here/../profiles" "$tmp/profiles"
    install -m 755 "$sbox" "$tmp/sbox"
    [ -n "$sbox2" ] && install -m 755 "$sbox2" "$tmp/sbox2"
    chmod -R a+rX "$tmp"
    chown "$uid" "$tmp"
    flags=()
    [ $quick = 1 ] && flags+=(--quick)
    [ $interleave = 1 ] && flags+=(--interleave)
    [ -n "$sbox2" ] && flags+=(--also "$tmp/sbox2")
    exec setpriv --reuid "$uid" --regid "$uid" --clear-groups \
        env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$tmp" BWRAP="$bwrap" \
        BENCH_OUT="${BENCH_OUT:-$tmp/out}" ${BENCH_MAX:+BENCH_MAX=$BENCH_MAX} \
        ${BENCH_TOTAL:+BENCH_TOTAL=$BENCH_TOTAL} \
        ${BENCH_MAX_PROFILE:+BENCH_MAX_PROFILE=$BENCH_MAX_PROFILE} \
        bash "$tmp/bench/run.sh" "${flags[@]}" --only "$only" "$tmp/sbox"
fi

export PATH=/usr/local/bin:/usr/bin:/bin
out=${BENCH_OUT:-$(mktemp -d /tmp/sbox-bench-out.XXXXXX)}
mkdir -p "$out"
work=$(mktemp -d /tmp/sbox-bench-work.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
sbox=$(realpath "$sbox")
[ -n "$sbox2" ] && sbox2=$(realpath "$sbox2")
# BENCH_MAX: fail when an sbox median is more than this many times bwrap's (CI: 2).
max=${BENCH_MAX:-}

if [ $quick = 1 ]; then
    hf=(hyperfine -N --warmup 5 --runs 40 --style none)
    il=(python3 "$here/interleave.py" --warmup 3 -r 40)
    loops=300000 d_runs=5 make_runs=3 total=${BENCH_TOTAL:-320} rss_runs=3
else
    hf=(hyperfine -N --warmup 20 --runs 300 --style none)
    il=(python3 "$here/interleave.py" --warmup 10 -r 300)
    loops=3000000 d_runs=20 make_runs=10 total=${BENCH_TOTAL:-16000} rss_runs=7
fi

for c in syscalls parallel floor; do
    gcc -O2 -o "$work/$c" "$here/$c.c"
done

table=$out/results.md
{
    echo "sbox: $("$sbox" --version 2>&1 | head -1); bwrap: $("$bwrap" --version); kernel $(uname -r); $(nproc) CPUs"
    echo
    echo "| case | command | median ms | ratio |"
    echo "|---|---|---|---|"
} >"$table"
cat "$table"
status=0

want() { [[ ,$only, == *,$1,* ]]; }

# compare NAME BASE_INDEX CHECK_INDICES [LABEL CMD]...: one hyperfine run, a table row per
# command (LABEL: what the table shows; CMD: what runs).
compare() {
    local name=$1 base=$2 check=$3
    shift 3
    local cmds=()
    while [ $# -gt 0 ]; do
        cmds+=(-n "$1" "$2")
        shift 2
    done
    if [ $interleave = 1 ]; then
        "${il[@]}" --json "$out/$name.json" "${cmds[@]}" >/dev/null || status=1
    else
        "${hf[@]}" --export-json "$out/$name.json" "${cmds[@]}" >/dev/null
    fi
    report "$name" "$base" "$check"
}

report() {
    local extra=()
    if [ -n "$max" ]; then
        extra=(--max "$max")
        for i in $3; do extra+=(--check "$i"); done
    fi
    python3 "$here/ratio.py" "$out/$1.json" --base "$2" --label "$1" "${extra[@]}" \
        | tee -a "$table" || status=1
}

nopol="--seccomp-profile none --allow-userns"

if want a; then
    a="--ro-bind / / true"
    compare a 0 "1" \
        "bwrap $a" "$bwrap $a" \
        "sbox $a" "$sbox $a" \
        "sbox $nopol $a" "$sbox $nopol $a" \
        ${sbox2:+"sbox2 $a" "$sbox2 $a" "sbox2 $nopol $a" "$sbox2 $nopol $a"} \
        "floor: clone(NEWUSER|NEWNS), maps, exec true" "$work/floor true" \
        "floor + the same ro root (C, no checks)" "$work/floor root true" \
        "floor + ro root + a 1-insn seccomp filter" "$work/floor root seccomp true"
fi

if want b; then
    b="--ro-bind / / --proc /proc --dev /dev --unshare-all --die-with-parent true"
    compare b 0 "1" \
        "bwrap $b" "$bwrap $b" \
        "sbox $b" "$sbox $b" \
        "sbox $nopol $b" "$sbox $nopol $b" \
        ${sbox2:+"sbox2 $b" "$sbox2 $b"} \
        "floor: clone(all namespaces), maps, exec true" "$work/floor all true"
fi

if want c; then
    # /usr and /etc, the usual symlinks, and 18 more directories bound below /src.
    c="--ro-bind /usr /usr --ro-bind /etc /etc --symlink usr/bin /bin --symlink usr/lib /lib"
    c="$c --symlink usr/lib64 /lib64 --symlink usr/sbin /sbin"
    n=0
    for d in /usr/share/*/; do
        [ $n -ge 18 ] && break
        [ -r "$d" ] && [ -x "$d" ] || continue
        c="$c --ro-bind ${d%/} /src/$n"
        n=$((n + 1))
    done
    compare c 0 "1" \
        "bwrap <20 ro-binds> true" "$bwrap $c true" \
        "sbox <20 ro-binds> true" "$sbox $c true" \
        "sbox $nopol <20 ro-binds> true" "$sbox $nopol $c true" \
        ${sbox2:+"sbox2 <20 ro-binds> true" "$sbox2 $c true"}
fi

if want d; then
    # A one-instruction program, SECCOMP_RET_ALLOW: the cost of having any filter at all.
    printf '\x06\x00\x00\x00\x00\x00\xff\x7f' >"$work/allow.bpf"
    # The least a filter that denies ioctl(TIOCSTI) must do: load nr, compare, load the request,
    # compare, return (one program, 6 instructions).
    python3 - "$work/ioctl.bpf" <<'PY'
import struct, sys
LD, JEQ, RET = 0x20, 0x15, 0x06
prog = [(LD, 0, 0, 0), (JEQ, 0, 3, 16), (LD, 0, 0, 24), (JEQ, 0, 1, 0x5412),
        (RET, 0, 0, 0x00050001), (RET, 0, 0, 0x7FFF0000)]
open(sys.argv[1], "wb").write(b"".join(struct.pack("<HBBI", *i) for i in prog))
PY
    for call in getppid ioctl; do
        run="$work/syscalls $call $loops"
        box="$sbox --ro-bind / /"
        # Through a shell: the BPF programs are passed on descriptor 3.
        hyperfine --style none --warmup 2 --runs "$d_runs" --export-json "$out/d-$call.json" \
            -n "sbox --seccomp-profile none" "$box --seccomp-profile none $run" \
            -n "sbox --seccomp-profile none --seccomp <allow-all, 1 insn>" \
            "$box --seccomp-profile none --seccomp 3 $run 3<$work/allow.bpf" \
            -n "sbox --seccomp-profile none --seccomp <ioctl check, 6 insns>" \
            "$box --seccomp-profile none --seccomp 3 $run 3<$work/ioctl.bpf" \
            -n "sbox (default profile)" "$box $run" \
            -n "sbox --seccomp-profile strict" "$box --seccomp-profile strict $run" \
            -n "no sandbox" "$run" >/dev/null
        report "d-$call" 0 ""
    done
fi

if want e; then
    proj=$work/proj
    mkdir -p "$proj"
    for i in $(seq 1 16); do
        {
            echo "#include <string.h>"
            for j in $(seq 1 40); do
                echo "int f${i}_$j(const char *s) { int h = $j; while (*s) h = h * 31 + *s++; return h + (int)strlen(s); }"
            done
        } >"$proj/m$i.c"
    done
    echo "int main(void) { return 0; }" >"$proj/main.c"
    printf '%s\n' 'SRC := $(wildcard *.c)' 'OBJ := $(SRC:.c=.o)' 'prog: $(OBJ)' \
        '	$(CC) -o $@ $(OBJ)' '%.o: %.c' '	$(CC) -O2 -c -o $@ $<' 'clean:' \
        '	rm -f *.o prog' >"$proj/Makefile"
    box="--ro-bind / / --dev /dev --tmpfs /tmp --bind $proj $proj"
    hyperfine -N --warmup 1 --runs "$make_runs" --style none \
        --prepare "make -s -C $proj clean" --export-json "$out/e.json" \
        -n "make -j2 (no sandbox)" "make -s -C $proj -j2" \
        -n "sbox <ro /, dev, tmpfs /tmp, rw project> make -j2" "$sbox $box make -s -C $proj -j2" \
        -n "bwrap <same> make -j2" "$bwrap $box make -s -C $proj -j2" >/dev/null
    report e 0 ""
fi

if want f; then
    # The outer process's peak RSS while the sandbox sleeps; median of several starts.
    hwm() {
        local v=()
        for _ in $(seq $rss_runs); do
            "$@" sleep 0.4 &
            local pid=$!
            sleep 0.2
            v+=("$(awk '/^VmHWM/ {print $2}' /proc/$pid/status)")
            wait $pid
        done
        printf '%s\n' "${v[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
    }
    row() { # LABEL KB
        echo "| f | \`$1 --ro-bind / / sleep\` VmHWM | $2 kB | $(python3 -c "print(f'{$2/$hb:.2f}')") |"
    }
    hb=$(hwm "$bwrap" --ro-bind / /)
    {
        row bwrap "$hb"
        row sbox "$(hwm "$sbox" --ro-bind / /)"
        row "sbox $nopol" "$(hwm "$sbox" $nopol --ro-bind / /)"
        [ -z "$sbox2" ] || row sbox2 "$(hwm "$sbox2" --ro-bind / /)"
    } | tee -a "$table"
fi

if want g; then
    # 32 sandboxes at a time, TOTAL runs of each tool; a failure is any non-zero exit.
    declare -A rate
    for label in bwrap sbox ${sbox2:+sbox2}; do
        case $label in
        bwrap) tool=$bwrap ;;
        sbox) tool=$sbox ;;
        sbox2) tool=$sbox2 ;;
        esac
        r=$("$work/parallel" 32 "$total" "$tool" --ro-bind / / true) || status=1
        rate[$label]=${r##*per_second=}
        echo "| g | \`$label --ro-bind / / true\` x$total, 32 at a time: $r | ${rate[$label]}/s" \
            "| $(python3 -c "print(f'{${rate[$label]}/${rate[bwrap]}:.2f}')") |" | tee -a "$table"
    done
    if [ -n "$max" ] && python3 -c "import sys; sys.exit(not ${rate[bwrap]} > $max * ${rate[sbox]})"; then
        echo "REGRESSION: sbox throughput ${rate[sbox]}/s, bwrap ${rate[bwrap]}/s (limit: 1/$max of bwrap's)"
        status=1
    fi
fi

if want p; then
    # The repository's profiles (as root, copied beside this script).
    export SBOX_PROFILE_PATH=$here/../profiles
    mkdir -p "$work/pproj/.git" "$work/phome"
    # The profile layer's cost: reading and merging base < project < make, the variables
    # (getpwuid, the git work tree), against the same options parsed from the command line.
    pargs=$(cd "$work/pproj" && HOME=$work/phome python3 "$here/profile-argv.py" "$sbox" make)
    saved_max=$max
    max=${BENCH_MAX_PROFILE:-$max}
    saved_home=$HOME
    cd "$work/pproj"
    export HOME=$work/phome
    compare p 0 "1" \
        "sbox <make's options> true" "$sbox $pargs true" \
        "sbox --profile make true" "$sbox --profile make true"
    cd "$work"
    export HOME=$saved_home
    max=$saved_max
fi

echo "results: $out" >&2
exit $status
