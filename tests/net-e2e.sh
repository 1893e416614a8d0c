#!/usr/bin/env bash
# End to end, with the real network (issue 14): a real `cargo fetch` of one small dependency
# under the shipped cargo-fetch profile, as an unprivileged user, with a throwaway home (so
# the download really happens):
#   1. recorded:  sbox --profile cargo-fetch --net-record .sbox/net-allow.toml -- cargo fetch
#   2. replayed:  the cache emptied, the same fetch through the recorded allowlist only
#   3. emptied:   `allow = []`, the cache emptied: the fetch fails, refused with the one line
# No registry name is written here: cargo's own default is what the recording learns.
#
# Usage:  tests/net-e2e.sh [SBOX]   (default: target/<host tuple>/release/sbox)
# Environment: CI set: a missing prerequisite fails instead of skipping; SBOX_E2E_KEEP=1
# keeps the scratch directory.
# As root, runs as uid/gid 4321 (as the Rust tests do). rustup's toolchain under a 0700
# /root can't be run by that user: the cargo binary is copied into the user's ~/.cargo/bin,
# and rustc, which `cargo fetch` only asks for the host's target facts, is a script that
# replays the real rustc's answers to those questions, recorded here first (cargo check of
# an empty crate, no network).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sbox=${1:-$here/../target/$(rustc --print host-tuple)/release/sbox}
start=$(date +%s)

fail() {
	echo "net-e2e: FAIL: $*"
	exit 1
}
skip() {
	[ -n "${CI:-}" ] && fail "$* (required under CI)"
	echo "SKIPPED: net-e2e: $*"
	exit 0
}
[ -x "$sbox" ] || fail "$sbox: no such binary (cargo build --release first)"
real_cargo=$(rustup which cargo 2>/dev/null || command -v cargo || true)
real_rustc=$(rustup which rustc 2>/dev/null || command -v rustc || true)
[ -n "$real_cargo" ] && [ -n "$real_rustc" ] || skip "no cargo/rustc"

T=$(mktemp -d /var/tmp/sbox-net-e2e.XXXXXX)
[ "${SBOX_E2E_KEEP:-}" = 1 ] || trap 'rm -rf "$T"' EXIT
chmod 0755 "$T"
home=$T/home proj=$T/proj bin=$T/home/.cargo/bin
mkdir -p "$bin/facts" "$proj/src" "$proj/.sbox" "$T/probe/src"
cp "$sbox" "$T/sbox"
cp "$real_cargo" "$bin/cargo"

# rustc's answers, keyed by the arguments cargo passes.
cat >"$T/capture" <<EOF
#!/bin/sh
key=\$(printf '%s\n' "\$@" | sha256sum | cut -c1-16)
"$real_rustc" "\$@" >"$bin/facts/\$key.out" && cat "$bin/facts/\$key.out"
EOF
cat >"$bin/rustc" <<EOF
#!/bin/sh
# Replays the real rustc's answer to the same question (tests/net-e2e.sh).
key=\$(printf '%s\n' "\$@" | sha256sum | cut -c1-16)
[ -f "$bin/facts/\$key.out" ] || { echo "fake rustc: no recorded answer for: \$*" >&2; exit 1; }
cat "$bin/facts/\$key.out"
EOF
chmod 0755 "$T/capture" "$bin/rustc"
printf '[package]\nname = "probe"\nversion = "0.1.0"\nedition = "2021"\n' >"$T/probe/Cargo.toml"
echo 'fn main() {}' >"$T/probe/src/main.rs"
(cd "$T/probe" && RUSTC=$T/capture CARGO_HOME=$T/probe-home "$real_cargo" check --offline -q) ||
	fail "recording rustc's target facts"
rm -f "$bin"/facts/*.out.tmp

# One small dependency with no dependencies of its own, pinned.
printf '[package]\nname = "e2e"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\ncfg-if = "=1.0.0"\n' \
	>"$proj/Cargo.toml"
echo 'fn main() {}' >"$proj/src/main.rs"
touch "$proj/Cargo.lock"

if [ "$(id -u)" = 0 ]; then
	chown -R 4321:4321 "$home" "$proj"
	as_user=(setpriv --reuid 4321 --regid 4321 --clear-groups)
else
	as_user=()
fi
chmod -R a+rX "$T"

# sbox --profile cargo-fetch ARGS... -- cargo fetch, from the project; stderr to $T/err.
fetch() {
	(cd "$proj" && "${as_user[@]}" env -i PATH="$bin:/usr/bin:/bin" HOME="$home" \
		"$T/sbox" --profile cargo-fetch "$@" -- cargo fetch) >"$T/out" 2>"$T/err"
}
crate_cached() { compgen -G "$home/.cargo/registry/cache/*/cfg-if-1.0.0.crate" >/dev/null; }
list=$proj/.sbox/net-allow.toml

# 1. Recorded.
fetch --net-record "$list" || fail "recording run: $(cat "$T/err")"
crate_cached || fail "recording run: nothing downloaded: $(cat "$T/err")"
[ -f "$list" ] || fail "no allowlist written"
rules=$(grep -c '^    "' "$list" || true)
[ "$rules" -ge 1 ] || fail "recorded no destination: $(cat "$list")"
head -1 "$list" | grep -q '^# Network allowlist recorded by sbox on ' || fail "no header: $(cat "$list")"
echo "net-e2e: recorded $rules destination(s):"
sed -n 's/^    "\(.*\)",$/net-e2e:   \1/p' "$list"

# 2. Replayed: only what was recorded is reachable, and it is enough.
rm -rf "$home/.cargo/registry"
fetch || fail "replay: $(cat "$T/err")"
crate_cached || fail "replay: nothing downloaded: $(cat "$T/err")"
! grep -q 'no allowlist' "$T/err" || fail "replay ran with the host network: $(cat "$T/err")"
echo "net-e2e: replayed through the recorded allowlist"

# 3. Emptied: refused, with the one line.
printf '# emptied\nallow = []\n' >"$list"
rm -rf "$home/.cargo/registry"
if fetch; then fail "the fetch succeeded with an empty allowlist"; fi
crate_cached && fail "downloaded with an empty allowlist"
grep -q '^sbox: network: refused .* (not in the allowlist)$' "$T/err" ||
	fail "no refused line: $(cat "$T/err")"
echo "net-e2e: emptied allowlist refused: $(grep -m1 '^sbox: network: refused' "$T/err")"
echo "net-e2e: passed in $(($(date +%s) - start)) s"
