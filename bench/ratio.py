#!/usr/bin/env python3
"""Medians and ratios from a hyperfine JSON export.

    ratio.py RESULT.json [--base N] [--label TEXT] [--max RATIO]

Prints one markdown table row per command: median (ms), ratio of its median to the median of
command N (0-based, default 0), and the command. With --max, exits 1 if any ratio exceeds it
(CI's gross-regression check)."""
import argparse
import json
import statistics

ap = argparse.ArgumentParser()
ap.add_argument("json")
ap.add_argument("--base", type=int, default=0)
ap.add_argument("--label", default="")
ap.add_argument("--max", type=float)
ap.add_argument("--check", type=int, action="append", default=[],
                help="indices --max applies to (default: all)")
a = ap.parse_args()

results = json.load(open(a.json))["results"]
med = [statistics.median(r["times"]) for r in results]
base = med[a.base]
bad = []
for i, (r, m) in enumerate(zip(results, med)):
    ratio = m / base
    print(f"| {a.label} | `{r['command']}` | {m * 1e3:.2f} | {ratio:.2f} |")
    if a.max is not None and i != a.base and (not a.check or i in a.check) and ratio > a.max:
        bad.append((r["command"], ratio))
for cmd, ratio in bad:
    print(f"REGRESSION: {cmd}: {ratio:.2f} x the baseline (limit {a.max})")
raise SystemExit(1 if bad else 0)
