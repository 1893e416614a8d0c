#!/usr/bin/env python3
"""Round-robin timing: one run of each command in turn, N rounds, then medians and ratios to
the first command. hyperfine times each command's runs in one batch, so on a shared machine
load that comes and goes lands on some commands and not others; alternating spreads it
evenly. Used by `run.sh --interleave`, and for quick A/B checks:

    interleave.py [-r ROUNDS] [--warmup K] [--json OUT] [-n LABEL] CMD [[-n LABEL] CMD]...

CMD is one shell-quoted string, run without a shell (stdout to /dev/null). The JSON has
hyperfine's shape (results[].command, results[].times) for ratio.py."""
import json
import os
import shlex
import statistics
import sys
import time

rounds, warmup, out = 200, 10, None
cmds = []  # (label, argv)
args = sys.argv[1:]
label = None
while args:
    a = args.pop(0)
    if a in ("-r", "--rounds"):
        rounds = int(args.pop(0))
    elif a == "--warmup":
        warmup = int(args.pop(0))
    elif a == "--json":
        out = args.pop(0)
    elif a == "-n":
        label = args.pop(0)
    else:
        cmds.append((label or a, shlex.split(a)))
        label = None
if not cmds:
    sys.exit(__doc__)

times = [[] for _ in cmds]
failures = [0] * len(cmds)
null = os.open(os.devnull, os.O_RDWR)
for r in range(warmup + rounds):
    # Rotate the starting command too, so no command always follows the same one.
    for k in range(len(cmds)):
        i = (k + r) % len(cmds)
        argv = cmds[i][1]
        t = time.perf_counter_ns()
        pid = os.posix_spawnp(argv[0], argv, os.environ,
                              file_actions=[(os.POSIX_SPAWN_DUP2, null, 1)])
        _, st, _ = os.wait4(pid, 0)
        dt = time.perf_counter_ns() - t
        if r >= warmup:
            times[i].append(dt / 1e9)
            failures[i] += os.waitstatus_to_exitcode(st) != 0
med = [statistics.median(t) for t in times]
for (name, _), m, f in zip(cmds, med, failures):
    print(f"{m * 1e3:8.3f} ms  {m / med[0]:5.2f}  {f'{f} FAILED  ' if f else ''}{name}")
if out:
    with open(out, "w") as fh:
        json.dump({"results": [{"command": c[0], "times": t, "failures": f}
                               for c, t, f in zip(cmds, times, failures)]}, fh)
sys.exit(1 if any(failures) else 0)
