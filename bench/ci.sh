#!/usr/bin/env bash
# CI's performance check (called from .ci/run): a short bench/run.sh that fails only on a gross
# regression, never on noise: sbox's median more than twice bwrap's for cases a and b, sbox's
# throughput under half of bwrap's with 32 at a time, `--profile make true` more than 1.5
# times the same sandbox given as options (case p; the target is 1.10), or any failed run;
# then bench/net.sh --quick with its gross-miss limits. Well under a minute.
#   bench/ci.sh [SBOX]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BENCH_MAX=${BENCH_MAX:-2} BENCH_TOTAL=${BENCH_TOTAL:-320} BENCH_MAX_PROFILE=${BENCH_MAX_PROFILE:-1.5} \
    bash "$here/run.sh" --quick --interleave --only a,b,g,p "$@"
# The network allowlist (bench/net.sh, issue 14's figures): only a gross miss fails here.
NET_BENCH_GROSS=1 bash "$here/net.sh" --quick "$@"
