#!/usr/bin/env python3
"""Criterion figures as ratios: for every benchmark group under target/criterion, each
benchmark's median time, its throughput, and its time over the group's bound (the sibling
whose name starts with `bound`; `time / bound` ≥ 1 means slower than the bound).

Usage: python3 scripts/bench-ratios.py [CRITERION-DIR]   (after `cargo bench`)
"""

import json
import os
import sys


def human_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def human_rate(throughput, ns):
    if not throughput:
        return f"{1e9 / ns:,.0f} /s"
    (kind, amount), = throughput.items()
    per_s = amount * 1e9 / ns
    if kind == "Bytes":
        return f"{per_s / 1e6:,.1f} MB/s"
    return f"{per_s / 1e6:,.3f} M elem/s"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "target", "criterion")
    groups = {}
    for dirpath, _, files in os.walk(root):
        if os.path.basename(dirpath) != "new" or "benchmark.json" not in files:
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            meta = json.load(f)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            est = json.load(f)
        groups.setdefault(meta["group_id"], []).append((meta["function_id"], meta.get("throughput"), est["median"]["point_estimate"]))
    if not groups:
        sys.exit(f"no criterion results under {root}: run `cargo bench` first")
    for group in sorted(groups):
        rows = sorted(groups[group])
        bound = next((ns for name, _, ns in rows if name.startswith("bound")), None)
        print(f"{group}")
        for name, tp, ns in rows:
            ratio = f"{ns / bound:7.2f}× bound" if bound else ""
            print(f"  {name:36} {human_time(ns):>10} {human_rate(tp, ns):>18}  {ratio}")
    return 0


if __name__ == "__main__":
    main()
