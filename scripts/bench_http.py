"""The user's view for scripts/bench.py: curl through `ork http-proxy` and a 5-hop onion proxy to
`python3 -m http.server`, the same measurement as the Tor comparison in docs/performance.md
(Tor: curl over SOCKS to the same server). Fresh-connection time to first byte of a 1 KiB file
(each curl opens a new anonymous connection) and a 100 MiB download with the CPU-seconds every
ork process spent on it. Standard library only; imported by bench.py.
"""

import os
import socket
import statistics
import subprocess
import sys
import time

MIB = 1 << 20
SMALL, BIG = "1k.bin", "100m.bin"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(ctx, port, what):
    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False

    ctx.wait(what, up)


def web_root(work):
    """A directory with the 1 KiB and 100 MiB files, made once per run."""
    root = os.path.join(work, "www")
    if not os.path.isdir(root):
        os.makedirs(root)
        with open(os.path.join(root, SMALL), "wb") as f:
            f.write(os.urandom(1024))
        with open(os.path.join(root, BIG), "wb") as f:
            chunk = os.urandom(MIB)
            for _ in range(100):
                f.write(chunk)
    return root


def _curl(proxy_port, web_port, name, fmt):
    out = subprocess.run(
        [
            "curl", "-s", "-o", "/dev/null", "--max-time", "120", "-x", f"http://127.0.0.1:{proxy_port}",
            "-w", fmt, f"http://127.0.0.1:{web_port}/{name}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.split()


def _user_system(pid):
    """(user, system) CPU seconds of process `pid`."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tck, int(fields[12]) / tck


def http_phase(ctx, op_port, op_pid, cpu_seconds, log, connections=50, downloads=3):
    """Returns {'ttfb_s': [...], 'download_Bps': [...], 'cpu_s_per_100mib': [...]}"""
    root = web_root(ctx.work)
    web_port = _free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", root, str(web_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    proxy_port = _free_port()
    proxy = ctx.spawn(
        f"http-proxy{proxy_port}",
        [ctx.ork, "http-proxy", "--listen", f"127.0.0.1:{proxy_port}", "--onion-proxy", f"127.0.0.1:{op_port}"],
    )
    res = {"ttfb_s": [], "download_Bps": [], "cpu_s_per_100mib": []}
    try:
        _wait_listening(ctx, web_port, "python3 -m http.server")
        _wait_listening(ctx, proxy_port, "ork http-proxy")
        for i in range(connections + 3):
            t, size, code = _curl(proxy_port, web_port, SMALL, "%{time_starttransfer} %{size_download} %{http_code}")
            if code != "200" or size != "1024":
                raise RuntimeError(f"curl through the HTTP proxy: HTTP {code}, {size} bytes")
            if i >= 3:  # the first three warm the routers' and proxies' buffers
                res["ttfb_s"].append(float(t))
        pids = [p.pid for p in ctx.routers] + [op_pid, proxy.pid]
        names = [f"r{i + 1}" for i in range(len(ctx.routers))] + ["onion-proxy", "http-proxy"]
        split = {n: [] for n in names}
        for _ in range(downloads):
            c0, parts0 = cpu_seconds(pids), [_user_system(p) for p in pids]
            speed, size, code = _curl(proxy_port, web_port, BIG, "%{speed_download} %{size_download} %{http_code}")
            c1, parts1 = cpu_seconds(pids), [_user_system(p) for p in pids]
            for n, a, b in zip(names, parts0, parts1):
                split[n].append((b[0] - a[0], b[1] - a[1]))
            if code != "200" or int(size) != 100 * MIB:
                raise RuntimeError(f"100 MiB through the HTTP proxy: HTTP {code}, {size} bytes")
            res["download_Bps"].append(float(speed))
            res["cpu_s_per_100mib"].append(c1 - c0)
        lat = res["ttfb_s"]
        log(
            f"curl via http-proxy, 5 hops: fresh TTFB median {statistics.median(lat) * 1e3:.1f} ms, "
            f"p90 {sorted(lat)[int(0.9 * (len(lat) - 1))] * 1e3:.1f} ms; 100 MiB "
            f"{statistics.median(res['download_Bps']) / 1e6:.1f} MB/s (median of {downloads}), "
            f"{statistics.median(res['cpu_s_per_100mib']):.2f} ork CPU-s per 100 MiB"
        )
        # Where the CPU went: each process's user and system seconds, median over the downloads.
        res["cpu_split"] = {n: [statistics.median(u for u, _ in v), statistics.median(k for _, k in v)]
                            for n, v in split.items()}
        log("  by process, CPU-s per 100 MiB (user + system): " + ", ".join(
            f"{n} {u:.2f}+{k:.2f}" for n, (u, k) in res["cpu_split"].items()))
    finally:
        ctx.stop(proxy)
        web.terminate()
        try:
            web.wait(timeout=5)
        except subprocess.TimeoutExpired:
            web.kill()
    time.sleep(0.1)
    return res


def table_rows(phases):
    """Markdown lines comparing the phases' curl figures with Tor's (docs/performance.md)."""
    rows = [p for p in phases if "http" in p]
    if not rows:
        return []
    out = [
        "## curl through `ork http-proxy`, 5 hops, AES-128-CTR (the Tor comparison)\n",
        "Tor 0.4.9 figures from the same kind of machine (docs/performance.md): fresh circuit TTFB "
        "81.8 / 99.1 ms (median / p90), 3.9 MB/s over 5 hops, 11.3 CPU-s per 100 MiB.\n",
        "| mixing | TTFB median ms | TTFB p90 ms | 100 MiB MB/s (median) | ork CPU-s per 100 MiB (median) |",
        "|---|---|---|---|---|",
    ]
    for p in rows:
        h = p["http"]
        lat = sorted(h["ttfb_s"])
        out.append(
            f"| {p['mix']} | {statistics.median(lat) * 1e3:.1f} | {lat[int(0.9 * (len(lat) - 1))] * 1e3:.1f} | "
            f"{statistics.median(h['download_Bps']) / 1e6:.1f} | {statistics.median(h['cpu_s_per_100mib']):.2f} |"
        )
    out.append("")
    return out
