#!/usr/bin/env python3
"""Plot bench-results/mixing-curve.csv (written by `cargo bench --bench mixing_curve`) as
bench-results/mixing-curve.png: for the fixed-interval mixer (against its interval) and for the
10 ms mixer with a wait for company (against the wait), the mixing delay a fresh 5-hop
connection collects before its first byte, and the share of consecutive cells of different
connections that leave swapped and how far a cell moves in the order, at four background loads.

  python3 scripts/plot_mixing_curve.py [CSV] [PNG]
"""

import csv
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "bench-results", "mixing-curve.csv")
dst = sys.argv[2] if len(sys.argv) > 2 else os.path.splitext(src)[0] + ".png"

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

with open(src) as f:
    rows = list(csv.DictReader(f))
loads = []
for r in rows:
    if r["load"] not in loads:
        loads.append(r["load"])

fig, axes = plt.subplots(3, 2, figsize=(11, 11), sharey="row")
for col, (design, xkey, xlabel) in enumerate(
    [("fixed", "interval_ms", "fixed mixing interval, ms (paper's design)"),
     ("lone-wait", "lone_wait_ms", "wait for company, ms (10 ms interval; ork's default 1 ms)")]
):
    for load in loads:
        pts = sorted((float(r[xkey]), r) for r in rows if r["design"] == design and r["load"] == load)
        xs = [p[0] for p in pts]
        axes[0][col].plot(xs, [float(p[1]["fresh_5hop_mixing_delay_ms"]) for p in pts], marker="o", label=load)
        axes[1][col].plot(xs, [float(p[1]["swapped"]) for p in pts], marker="o", label=load)
        axes[2][col].plot(xs, [float(p[1]["displacement"]) for p in pts], marker="o", label=load)
    axes[0][col].set_title(design)
    axes[2][col].set_xlabel(xlabel)
    for ax in (axes[0][col], axes[1][col], axes[2][col]):
        ax.grid(True, alpha=0.3)
axes[0][0].set_ylabel("fresh 5-hop connection: mixing delay\nbefore the first byte, ms (10 hop crossings)")
axes[1][0].set_ylabel("consecutive cells of different\nconnections leaving swapped")
axes[2][0].set_ylabel("mean distance a cell moves\nin the order (positions)")
axes[2][0].set_yscale("symlog")
axes[0][0].axhline(30, color="grey", linestyle="--", linewidth=0.8)
axes[0][1].axhline(30, color="grey", linestyle="--", linewidth=0.8)
axes[0][1].legend(title="background load")
fig.tight_layout()
fig.savefig(dst, dpi=100)
print(f"wrote {dst}")
