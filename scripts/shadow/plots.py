"""Plots for the Shadow reports: PNG with matplotlib when it is installed, else SVG written by
hand (standard library). Each function takes a path without extension."""

import html

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    KIND = "png (matplotlib)"
except ImportError:
    plt = None
    KIND = "svg (no matplotlib)"

W, H, M = 640, 400, 60
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def _svg(path, title, xlabel, ylabel, body, xmax, ymax):
    t = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="14">{html.escape(title)}</text>',
         f'<line x1="{M}" y1="{H - M}" x2="{W - 20}" y2="{H - M}" stroke="black"/>',
         f'<line x1="{M}" y1="{H - M}" x2="{M}" y2="30" stroke="black"/>',
         f'<text x="{W / 2}" y="{H - 15}" text-anchor="middle">{html.escape(xlabel)}</text>',
         f'<text x="15" y="{H / 2}" transform="rotate(-90 15 {H / 2})" text-anchor="middle">{html.escape(ylabel)}</text>']
    for k in range(5):
        x = M + (W - 20 - M) * k / 4
        y = H - M - (H - M - 30) * k / 4
        t.append(f'<text x="{x}" y="{H - M + 15}" text-anchor="middle">{xmax * k / 4:.3g}</text>')
        t.append(f'<text x="{M - 5}" y="{y + 4}" text-anchor="end">{ymax * k / 4:.3g}</text>')
    t += body + ["</svg>"]
    with open(path + ".svg", "w") as f:
        f.write("\n".join(t) + "\n")


def _xy(x, y, xmax, ymax):
    return M + (W - 20 - M) * (x / xmax if xmax else 0), H - M - (H - M - 30) * (y / ymax if ymax else 0)


def cdf(path, title, xlabel, series, log=False):
    """Empirical CDFs; log: a logarithmic x axis (matplotlib only)."""
    series = {k: sorted(v) for k, v in series.items() if v}
    if plt:
        fig, ax = plt.subplots(figsize=(6.4, 4))
        for k, v in series.items():
            ax.step(v, [(i + 1) / len(v) for i in range(len(v))], where="post", label=f"{k} (n={len(v)})")
        ax.set(title=title, xlabel=xlabel, ylabel="fraction <= x")
        if log and series:
            ax.set_xscale("log")
        ax.grid(alpha=0.3)
        if series:
            ax.legend()
        fig.tight_layout()
        fig.savefig(path + ".png", dpi=100)
        plt.close(fig)
        return
    xmax = max([v[-1] for v in series.values()] + [1e-9])
    body = []
    for i, (k, v) in enumerate(series.items()):
        pts = " ".join("%.1f,%.1f" % _xy(x, (j + 1) / len(v), xmax, 1) for j, x in enumerate(v))
        body.append(f'<polyline fill="none" stroke="{COLOURS[i % 6]}" points="{pts}"/>')
        body.append(f'<text x="{W - 150}" y="{50 + 15 * i}" fill="{COLOURS[i % 6]}">{html.escape(k)} (n={len(v)})</text>')
    _svg(path, title, xlabel, "fraction <= x", body, xmax, 1)


def bars(path, title, counts):
    names, vals = list(counts), list(counts.values())
    if plt:
        fig, ax = plt.subplots(figsize=(6.4, 4))
        ax.barh(range(len(names)), vals)
        ax.set_yticks(range(len(names)), [n[:40] for n in names])
        ax.set(title=title, xlabel="count")
        fig.tight_layout()
        fig.savefig(path + ".png", dpi=100)
        plt.close(fig)
        return
    vmax = max(vals + [1])
    body, bh = [], (H - M - 40) / max(1, len(names))
    for i, (n, v) in enumerate(zip(names, vals)):
        x0, _ = _xy(0, 0, vmax, 1)
        x1, _ = _xy(v, 0, vmax, 1)
        y = 35 + i * bh
        body.append(f'<rect x="{x0}" y="{y}" width="{x1 - x0}" height="{bh * 0.8}" fill="{COLOURS[0]}"/>')
        body.append(f'<text x="{x0 + 4}" y="{y + bh * 0.5}">{html.escape(n[:40])}: {v}</text>')
    _svg(path, title, "count", "", body, vmax, 0)


def scatter(path, title, xlabel, ylabel, pts):
    if plt:
        fig, ax = plt.subplots(figsize=(6.4, 4))
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=8)
        ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(path + ".png", dpi=100)
        plt.close(fig)
        return
    xmax = max([p[0] for p in pts] + [1e-9])
    ymax = max([p[1] for p in pts] + [1e-9])
    body = ['<circle cx="%.1f" cy="%.1f" r="2" fill="%s"/>' % (*_xy(x, y, xmax, ymax), COLOURS[0]) for x, y in pts]
    _svg(path, title, xlabel, ylabel, body, xmax, ymax)
