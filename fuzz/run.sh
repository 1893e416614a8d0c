#!/usr/bin/env bash
# Fuzz the command line and profile front end (fuzz_targets/front_end.rs) for SECONDS
# (default 60), then stop. Needs a nightly toolchain and cargo-fuzz; says so when either is
# missing. The corpus grows in fuzz/corpus/front_end; a crash is saved in fuzz/artifacts/ and
# makes this script fail.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
case $seconds in
'' | *[!0-9]*)
    echo "usage: fuzz/run.sh SECONDS" >&2
    exit 2
    ;;
esac
if ! command -v rustup >/dev/null; then
    echo "fuzz/run.sh: rustup is not installed (a nightly toolchain is needed)" >&2
    exit 1
fi
if ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzz/run.sh: no nightly toolchain (rustup toolchain install nightly)" >&2
    exit 1
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: cargo-fuzz is not installed (cargo install cargo-fuzz)" >&2
    exit 1
fi
corpus=corpus/front_end
mkdir -p "$corpus"
# Seeds: a few command lines and a profile, so that the fuzzer starts from real input.
seed() { printf "$2" >"$corpus/seed-$1"; } # \x00 separates words
seed bind '\xff--ro-bind\x00/usr\x00/usr\x00--tmpfs\x00/tmp\x00--unshare-all\x00true'
seed values '\xff--size\x001M\x00--perms\x000755\x00--tmpfs\x00/t\x00--mem\x001G\x00--cpu\x00150%%\x00true'
seed profile 'extends = ["base"]\n[[mounts]]\nkind = "bind"\nsrc = "${PROJECT}"\n\xff--explain'
seed args '\xff--hostname\x00h\x00true\xff--unshare-uts\x00--dir\x00/d'
# The sandbox library's own build settings (a static link) do not apply to the fuzz build:
# cargo-fuzz sets its own flags. -rss_limit_mb: the machine is shared.
exec cargo +nightly fuzz run front_end "$corpus" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=4096
