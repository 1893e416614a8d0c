#!/usr/bin/env bash
# The egress allowlist's costs (issue 14): start-up against --unshare-net, bulk throughput
# and connect latency through sbox against direct, supervisor RSS with 200 connections.
#
#   bench/net.sh [--quick] [SBOX]
#
# SBOX defaults to target/<host tuple>/release/sbox. Needs curl and python3; local servers
# on 127.0.0.1 only. As root it re-runs itself as $BENCH_UID (default 4321) from a copy in a
# temporary directory, as bench/run.sh does. Fails loudly (status 1, MISSED: ...) when a goal
# is missed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
quick=
[ "${1:-}" = --quick ] && { quick=--quick; shift; }
sbox=${1:-$here/../target/$(rustc --print host-tuple)/release/sbox}

if [ "$(id -u)" = 0 ]; then
    uid=${BENCH_UID:-4321}
    tmp=$(mktemp -d /tmp/sbox-netbench.XXXXXX)
    trap 'rm -rf "$tmp"' EXIT
    install -m 755 "$sbox" "$tmp/sbox"
    install -m 755 "$here/net.py" "$tmp/net.py"
    chmod 755 "$tmp"
    cd /
    setpriv --reuid "$uid" --regid "$uid" --clear-groups env HOME=/ python3 "$tmp/net.py" "$tmp/sbox" $quick
    exit
fi
exec python3 "$here/net.py" "$sbox" $quick
