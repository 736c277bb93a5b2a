#!/usr/bin/env python3
"""End-to-end measurements for scripts/bench.sh: five real routers and onion proxies on
127.0.0.1, a destination server, and every figure beside a reference taken in the same run.

  bench.py run --ork target/release/ork --flood target/release/examples/onion_flood --out bench-results
  bench.py serve PORT            (the destination server; started by `run`)
  bench.py report results.json   (table and plots from a saved run)

Destination protocol: the client sends an 8-byte big-endian count N; the server sends N bytes,
shuts down its write side and waits for the client to close. A client that sends nothing is
an idle connection. Standard library only, except matplotlib for the plots.
"""

import argparse
import json
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

import bench_http

CIPHERS = ["none", "des", "rc4", "aes", "chacha"]
DEFAULT_CIPHER = "aes"  # the onion proxy's default (aes-128-ctr)
MIB = 1 << 20

TARGETS = {
    "rc4_5hop_mbs": 40.0,
    "ttfb_median_ms": 8.0,
    "peel_ratio": 0.8,
    "idle_rss_mib": 64.0,
}


# The router the onion flood targets.
FLOOD_ROUTER = 5

def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---------------------------------------------------------------- destination server


def serve(port):
    raise_nofile()
    payload = memoryview(os.urandom(4 * MIB))
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(4096)
    lsock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ, None)
    print("ready", flush=True)

    def close(s):
        sel.unregister(s)
        s.close()

    while True:
        for key, mask in sel.select():
            if key.data is None:
                while True:
                    try:
                        c, _ = lsock.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:  # out of descriptors: leave it in the backlog
                        time.sleep(0.01)
                        break
                    c.setblocking(False)
                    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    sel.register(c, selectors.EVENT_READ, {"req": b"", "left": None, "off": 0})
                continue
            s, st = key.fileobj, key.data
            if mask & selectors.EVENT_READ:
                try:
                    data = s.recv(65536)
                except (BlockingIOError, InterruptedError):
                    data = None
                except OSError:
                    close(s)
                    continue
                if data == b"":
                    close(s)
                    continue
                if data and st["left"] is None:
                    st["req"] += data
                    if len(st["req"]) >= 8:
                        st["left"] = struct.unpack(">Q", st["req"][:8])[0]
                        sel.modify(s, selectors.EVENT_READ | selectors.EVENT_WRITE, st)
            if mask & selectors.EVENT_WRITE and st["left"] is not None:
                while st["left"] > 0:
                    n = min(st["left"], len(payload) - st["off"])
                    try:
                        sent = s.send(payload[st["off"] : st["off"] + n])
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        close(s)
                        st = None
                        break
                    st["left"] -= sent
                    st["off"] = (st["off"] + sent) % len(payload)
                if st is not None and st["left"] == 0:
                    try:
                        s.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    st["left"] = -1
                    sel.modify(s, selectors.EVENT_READ, st)


# ---------------------------------------------------------------- clients


def structure(host, port):
    """protocol.md §7 standard structure, protocol 4 (generic TCP)."""
    return bytes([1, 4, 0, 1]) + host.encode() + b"\0" + str(port).encode() + b"\0"


def request(n):
    return struct.pack(">Q", n)


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        d = s.recv(n - len(out))
        if not d:
            raise ConnectionError(f"closed after {len(out)} of {n} bytes")
        out += d
    return out


def connect(ctx, via, n):
    """A socket whose next bytes are the server's n bytes: through onion proxy port `via`
    (status byte read and checked), or direct when `via` is None."""
    if via is None:
        s = socket.create_connection(("127.0.0.1", ctx.server_port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(request(n))
        return s
    s = socket.create_connection(("127.0.0.1", via))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(structure("127.0.0.1", ctx.server_port) + request(n))
    status = recv_exact(s, 1)[0]
    if status != 0:
        s.close()
        raise ConnectionError(f"onion proxy answered status {status}")
    return s


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    """User + system CPU time of processes `pids`, in seconds."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


def machine_ticks():
    """(busy, total) CPU ticks of the whole machine since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v[:8]) - idle, sum(v[:8])


def bulk_once(ctx, via, n, pids=()):
    """Bytes/s of one transfer of n bytes, and what the CPUs did meanwhile: CPU seconds of the
    ork processes `pids`, and the fraction of the machine busy (ork, us and anyone else)."""
    buf = bytearray(MIB)
    s = connect(ctx, via, n)
    t0, c0, (b0, a0) = time.perf_counter(), cpu_seconds(pids), machine_ticks()
    got = 0
    while True:
        k = s.recv_into(buf)
        if k == 0:
            break
        got += k
    dt = time.perf_counter() - t0
    c1, (b1, a1) = cpu_seconds(pids), machine_ticks()
    s.close()
    if got != n:
        raise ConnectionError(f"received {got} of {n} bytes")
    return n / dt, {"ork_cpu_s": c1 - c0, "wall_s": dt, "machine_busy": (b1 - b0) / max(1, a1 - a0)}


def bulk(ctx, via, seconds=None, pids=()):
    """Bytes/s of one connection, sized to take about `seconds` (after a 1 MiB warm-up)."""
    seconds = seconds or ctx.args.bulk_seconds
    rate, _ = bulk_once(ctx, via, MIB)
    n = int(min(max(rate * seconds, 4 * MIB), 2048 * MIB))
    rate, cpu = bulk_once(ctx, via, n, pids)
    cpu["bytes"] = n
    return rate, cpu


def ttfb(ctx, via, count):
    """Application connect → first byte of a 1 KiB response, `count` times, in seconds."""
    out = []
    for _ in range(count):
        t0 = time.perf_counter()
        s = connect(ctx, via, 1024)
        first = s.recv(1)
        t1 = time.perf_counter()
        if not first:
            raise ConnectionError("no response")
        rest = len(first)
        while True:
            d = s.recv(4096)
            if not d:
                break
            rest += len(d)
        s.close()
        if rest != 1024:
            raise ConnectionError(f"response of {rest} bytes")
        out.append(t1 - t0)
    return out


def open_idle(ctx, via, count, inflight=256):
    """Open `count` anonymous connections that then stay idle. Returns (sockets, seconds,
    failures)."""
    sel = selectors.DefaultSelector()
    req = structure("127.0.0.1", ctx.server_port)
    socks, failed, started, pending = [], 0, 0, 0
    t0 = time.perf_counter()
    last_progress = t0
    while len(socks) + failed < count:
        while started < count and pending < inflight:
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", via))
            sel.register(s, selectors.EVENT_WRITE, "connecting")
            started += 1
            pending += 1
        events = sel.select(timeout=1.0)
        if events:
            last_progress = time.perf_counter()
        elif time.perf_counter() - last_progress > 60:
            raise RuntimeError(f"no progress opening idle connections ({len(socks)} open, {failed} failed)")
        for key, mask in events:
            s = key.fileobj
            if key.data == "connecting":
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    sel.unregister(s)
                    s.close()
                    failed += 1
                    pending -= 1
                    continue
                s.send(req)
                sel.modify(s, selectors.EVENT_READ, "status")
            else:
                try:
                    b = s.recv(1)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    b = b""
                sel.unregister(s)
                pending -= 1
                if b == b"\0":
                    socks.append(s)
                else:
                    s.close()
                    failed += 1
    return socks, time.perf_counter() - t0, failed


# ---------------------------------------------------------------- processes


class Testbed:
    def __init__(self, args, work):
        self.args = args
        self.ork = os.path.abspath(args.ork)
        self.work = work
        self.base = args.base_port
        self.router_ports = [self.base + i for i in range(5)]
        self.server_port = self.base + 9
        self.next_op_port = self.base + 100
        self.procs = []  # (name, Popen)
        self.routers = []
        self.server = None

    def keys(self):
        for i in range(1, 6):
            subprocess.run([self.ork, "keygen", "--out", f"r{i}"], cwd=self.work, check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(self.work, "network.txt"), "w") as net:
            for i, p in enumerate(self.router_ports, 1):
                net.write(f"router r{i} 127.0.0.1:{p} r{i}.pub\n")
            for i in range(1, 6):
                for j in range(i + 1, 6):
                    net.write(f"link r{i} r{j}\n")
        for i in range(1, 6):
            with open(os.path.join(self.work, f"r{i}.neighbors"), "w") as f:
                for j, p in enumerate(self.router_ports, 1):
                    if j != i:
                        f.write(f"127.0.0.1:{p} r{j}.pub\n")
        with open(os.path.join(self.work, "exit-policy.txt"), "w") as f:
            f.write("accept 127.0.0.0/8:*\n")

    def spawn(self, name, argv, env_log="info"):
        log = open(os.path.join(self.work, f"{name}.log"), "w")
        env = dict(os.environ, RUST_LOG=env_log)
        p = subprocess.Popen(argv, cwd=self.work, stdout=subprocess.DEVNULL, stderr=log, env=env)
        self.procs.append((name, p))
        return p

    def log_text(self, name):
        with open(os.path.join(self.work, f"{name}.log")) as f:
            return f.read()

    def wait(self, what, pred, timeout=30):
        t0 = time.time()
        while not pred():
            if time.time() - t0 > timeout:
                raise RuntimeError(f"timed out waiting for {what}")
            for name, p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited with {p.returncode}; see {self.work}/{name}.log")
            time.sleep(0.05)

    def start_server(self):
        p = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "serve", str(self.server_port)],
            stdout=subprocess.PIPE,
            text=True,
        )
        if p.stdout.readline().strip() != "ready":
            raise RuntimeError("destination server did not start")
        self.server = p

    def start_routers(self, mix, tag):
        self.routers = []
        for i, port in enumerate(self.router_ports, 1):
            argv = [
                self.ork, "router", "--listen", f"127.0.0.1:{port}", "--key", f"r{i}.key",
                "--neighbors", f"r{i}.neighbors", "--exit-policy", "exit-policy.txt",
                "--state-dir", f"state-{tag}-r{i}", "--status-file", f"r{i}.status",
            ]
            # The flood measures how fast a router peels and the idle phase opens 10,000
            # connections in seconds: both measure capacity, which the per-link onion rate limit
            # (default 50/s, burst 200) would hide by refusing most onions before any RSA work.
            # No other figure comes near the limit.
            argv += ["--onion-rate", "1000000", "--onion-burst", "1000000"]
            if mix is not None:
                interval, _, lone = mix.partition("/")
                argv += ["--mix-interval", interval]
                if lone:
                    argv += ["--mix-lone-wait", lone]
            self.routers.append(self.spawn(f"{tag}-r{i}", argv))

        def linked():
            return all(self.log_text(f"{tag}-r{i}").count("link up: router") >= 4 for i in range(1, 6))

        self.wait("every router linked to its four neighbours", linked)

    def stop(self, p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = [(n, q) for n, q in self.procs if q is not p]

    def stop_routers(self):
        for p in self.routers:
            self.stop(p)
        self.routers = []

    def start_proxy(self, hops, cipher, tag):
        port = self.next_op_port
        self.next_op_port += 1
        name = f"{tag}-op{port}"
        argv = [
            self.ork, "onion-proxy", "--listen", f"127.0.0.1:{port}", "--network", "network.txt",
            "--entry", "r1", "--hops", str(hops), "--forw", cipher, "--back", cipher,
        ]
        p = self.spawn(name, argv)
        self.wait("onion proxy uplink", lambda: "keyed" in self.log_text(name))
        return port, p

    def status(self, i):
        with open(os.path.join(self.work, f"r{i}.status")) as f:
            return json.load(f)

    def shutdown(self):
        for _, p in list(self.procs):
            self.stop(p)
        if self.server is not None:
            self.server.kill()
            self.server.wait()


def rss_kib(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                fields[k] = int(v.split()[0])
    return fields


def pct(xs, q):
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))
    return xs[k]


# ---------------------------------------------------------------- one phase


def flood(ctx, router):
    f = os.path.abspath(ctx.args.flood)
    key, pub = f"r{router}.key", f"r{router}.pub"
    addr = f"127.0.0.1:{ctx.router_ports[router - 1]}"

    def run(argv):
        out = subprocess.run([f] + argv, cwd=ctx.work, check=True, capture_output=True, text=True).stdout
        return {k: float(v) for k, v in re.findall(r"^(\w+) ([\d.]+)$", out, re.M)}

    before_rsa = run(["rsa", key, "3"])["rsa_private_per_s"]
    st0 = ctx.status(router)
    got = run(["flood", addr, pub, str(ctx.args.flood_seconds)])
    time.sleep(1.2)  # one more status snapshot
    st1 = ctx.status(router)
    after_rsa = run(["rsa", key, "3"])["rsa_private_per_s"]
    peeled = st1["stats"]["onions_peeled"] - st0["stats"]["onions_peeled"]
    refused = {k: v - st0["stats"]["onions_refused"].get(k, 0) for k, v in st1["stats"]["onions_refused"].items()}
    rsa_bound = (before_rsa + after_rsa) / 2
    return {
        "router": router,
        "onions_per_s": got["onions_per_s"],
        "answered": got["onions_answered"],
        "peeled": peeled,
        "refused": {k: v for k, v in refused.items() if v},
        "rsa_private_per_s": rsa_bound,
        "rsa_before_after": [before_rsa, after_rsa],
        "ratio": got["onions_per_s"] / rsa_bound,
    }


def phase(ctx, mix, tag):
    args = ctx.args
    res = {"mix": mix or "default (10ms, lone wait 1ms)"}
    log(f"== phase {tag}: mixing interval {res['mix']}")
    ctx.start_routers(mix, tag)
    try:
        with open("/proc/loadavg") as f:
            res["loadavg_at_start"] = f.read().split()[:3]
        direct, cpu = bulk(ctx, None)
        res["direct_bulk_Bps"] = direct
        log(f"direct loopback copy: {direct / 1e6:.0f} MB/s ({cpu['bytes'] // MIB} MiB)")
        res["bulk"], res["bulk_cpu"] = {}, {}
        for hops in args.hops:
            for cipher in args.ciphers:
                port, op = ctx.start_proxy(hops, cipher, tag)
                try:
                    rate, cpu = bulk(ctx, port, pids=[p.pid for p in ctx.routers] + [op.pid])
                finally:
                    ctx.stop(op)
                res["bulk"][f"{hops}/{cipher}"] = rate
                res["bulk_cpu"][f"{hops}/{cipher}"] = cpu
                log(
                    f"bulk {hops} hop(s) {cipher:>6}: {rate / 1e6:7.2f} MB/s ({cpu['bytes'] // MIB} MiB), "
                    f"{rate / direct:.4f} of direct; {cpu['bytes'] / 1e6 / max(cpu['ork_cpu_s'], 1e-9):.0f} MB "
                    f"per ork CPU-second, machine {cpu['machine_busy'] * 100:.0f}% busy"
                )

        port, op = ctx.start_proxy(5, DEFAULT_CIPHER, tag)
        try:
            if args.http > 0:
                res["http"] = bench_http.http_phase(ctx, port, op.pid, cpu_seconds, log, connections=args.http)
            ttfb(ctx, port, 5)  # warm-up
            lat = ttfb(ctx, port, args.connections)
            dlat = ttfb(ctx, None, args.connections)
            res["ttfb_s"], res["direct_ttfb_s"] = lat, dlat
            log(
                f"TTFB 5 hops: median {statistics.median(lat) * 1e3:.2f} ms p99 {pct(lat, 0.99) * 1e3:.2f} ms; "
                f"direct median {statistics.median(dlat) * 1e3:.3f} ms p99 {pct(dlat, 0.99) * 1e3:.3f} ms"
            )

            res["flood"] = flood(ctx, FLOOD_ROUTER)
            fl = res["flood"]
            log(
                f"peel rate r5: {fl['onions_per_s']:.0f}/s vs RSA bound {fl['rsa_private_per_s']:.0f}/s "
                f"= {fl['ratio']:.2f} (status: {fl['peeled']} peeled, refused {fl['refused']})"
            )

            if args.idle > 0:
                res["idle"] = idle(ctx, port, op)
        finally:
            ctx.stop(op)
    finally:
        ctx.stop_routers()
    return res


def idle(ctx, port, op):
    out = {}
    pids = [p.pid for p in ctx.routers] + [op.pid]
    before, cpu = bulk(ctx, port, pids=pids)
    out["bulk_before_Bps"], out["bulk_before_cpu"] = before, cpu
    out["rss_before_kib"] = [rss_kib(p.pid)["VmRSS"] for p in ctx.routers]
    socks, secs, failed = open_idle(ctx, port, ctx.args.idle)
    out.update(requested=ctx.args.idle, opened=len(socks), failed=failed, setup_s=secs)
    log(f"idle: {len(socks)} connections open ({failed} failed) in {secs:.1f} s")
    try:
        time.sleep(2)
        out["connections_per_router"] = [ctx.status(i)["connections"] for i in range(1, 6)]
        out["rss_kib"] = [rss_kib(p.pid) for p in ctx.routers]
        out["proxy_rss_kib"] = rss_kib(op.pid)
        during, cpu = bulk(ctx, port, pids=pids)
        out["bulk_during_Bps"], out["bulk_during_cpu"] = during, cpu
        log(
            "idle: router RSS MiB "
            + " ".join(f"{r['VmRSS'] / 1024:.1f}" for r in out["rss_kib"])
            + f"; one more connection {during / 1e6:.1f} MB/s vs {before / 1e6:.1f} MB/s before"
        )
    finally:
        for s in socks:
            s.close()
    return out


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------- report


def fmt_mbs(bps):
    return f"{bps / 1e6:.1f}"


def table(results):
    lines = []
    meta = results["meta"]
    lines.append(f"# ork end-to-end benchmark ({meta['date']})\n")
    lines.append(
        f"Loopback testbed: 5 routers (full mesh) + onion proxy entering at r1, {meta['cpus']} CPU(s), "
        f"`{meta['uname']}`. Every figure has its reference from the same run beside it.\n"
    )
    for ph in results["phases"]:
        d = ph["direct_bulk_Bps"]
        lines.append(f"## Mixing interval {ph['mix']}\n")
        lines.append(
            f"### Bulk throughput of one connection, MB/s (fraction of a direct loopback copy, "
            f"{fmt_mbs(d)} MB/s)\n"
        )
        ciphers = [c for c in CIPHERS if any(k.endswith("/" + c) for k in ph["bulk"])]
        hops = sorted({int(k.split("/")[0]) for k in ph["bulk"]})
        lines.append("| hops | " + " | ".join(ciphers) + " |")
        lines.append("|---|" + "---|" * len(ciphers))
        for h in hops:
            cells = []
            for c in ciphers:
                v = ph["bulk"].get(f"{h}/{c}")
                cells.append("–" if v is None else f"{fmt_mbs(v)} ({v / d:.3f})")
            lines.append(f"| {h} | " + " | ".join(cells) + " |")
        lines.append("")
        if ph.get("bulk_cpu"):
            lines.append(
                "### Efficiency: MB carried per CPU-second of all ork processes (5 routers + onion proxy)\n\n"
                "Independent of what else the machine runs; the throughput n cores would allow is about "
                "n × this figure.\n"
            )
            lines.append("| hops | " + " | ".join(ciphers) + " |")
            lines.append("|---|" + "---|" * len(ciphers))
            for h in hops:
                cells = []
                for c in ciphers:
                    cpu = ph["bulk_cpu"].get(f"{h}/{c}")
                    cells.append("–" if cpu is None else f"{cpu['bytes'] / 1e6 / max(cpu['ork_cpu_s'], 1e-9):.0f}")
                lines.append(f"| {h} | " + " | ".join(cells) + " |")
            busy = [c["machine_busy"] for c in ph["bulk_cpu"].values()]
            share = [c["ork_cpu_s"] / (c["wall_s"] * results["meta"]["cpus"]) for c in ph["bulk_cpu"].values()]
            lines.append(
                f"\nDuring these transfers the machine's CPUs were {statistics.mean(busy) * 100:.0f}% busy on average, "
                f"{statistics.mean(share) * 100:.0f}% of them by ork (load average at the start of the phase: "
                f"{' '.join(ph.get('loadavg_at_start', []))}).\n"
            )
        if "ttfb_s" in ph:
            lat, dl = ph["ttfb_s"], ph["direct_ttfb_s"]
            m, p99, dm, dp99 = statistics.median(lat), pct(lat, 0.99), statistics.median(dl), pct(dl, 0.99)
            lines.append(f"### Setup + first byte of 1 KiB, 5 hops, {DEFAULT_CIPHER}, {len(lat)} connections\n")
            lines.append("| | median ms | p99 ms |")
            lines.append("|---|---|---|")
            lines.append(f"| anonymous | {m * 1e3:.2f} | {p99 * 1e3:.2f} |")
            lines.append(f"| direct | {dm * 1e3:.3f} | {dp99 * 1e3:.3f} |")
            lines.append(f"| ratio | {m / dm:.0f}× | {p99 / dp99:.0f}× |")
            lines.append("")
        if "flood" in ph:
            fl = ph["flood"]
            lines.append("### Onions peeled by one router (r5) under a flood of CREATEs\n")
            lines.append("| onions/s | RSA-private ops/s (bound, same run) | ratio | onions peeled | refused |")
            lines.append("|---|---|---|---|---|")
            refused = ", ".join(f"{k} {v}" for k, v in sorted(fl.get("refused", {}).items())) or "none"
            lines.append(
                f"| {fl['onions_per_s']:.0f} | {fl['rsa_private_per_s']:.0f} | {fl['ratio']:.2f} | "
                f"{fl.get('peeled', 0)} | {refused} |"
            )
            lines.append(
                "\nBound: `onion_flood rsa` (examples/onion_flood.rs) timing `rsa_block::decrypt_block` with the "
                "router's own key (CRT + blinding + check, the router's code path) on one core, "
                "before and after the flood, mean of the two.\n"
            )
        if "idle" in ph:
            idl = ph["idle"]
            lines.append(f"### {idl['opened']} concurrent idle anonymous connections (5 hops)\n")
            lines.append("| | r1 | r2 | r3 | r4 | r5 |")
            lines.append("|---|---|---|---|---|---|")
            lines.append("| RSS before, MiB | " + " | ".join(f"{k / 1024:.1f}" for k in idl["rss_before_kib"]) + " |")
            lines.append("| RSS with idle, MiB | " + " | ".join(f"{r['VmRSS'] / 1024:.1f}" for r in idl["rss_kib"]) + " |")
            lines.append("| connections | " + " | ".join(str(c) for c in idl["connections_per_router"]) + " |")
            lines.append("")
            b, du = idl["bulk_before_Bps"], idl["bulk_during_Bps"]
            lines.append(
                f"Set-up of {idl['opened']} connections: {idl['setup_s']:.1f} s ({idl['failed']} failed); "
                f"onion proxy RSS {idl['proxy_rss_kib']['VmRSS'] / 1024:.1f} MiB. One more connection while "
                f"they are open: {fmt_mbs(du)} MB/s vs {fmt_mbs(b)} MB/s just before ({du / b:.2f})"
            )
            if "bulk_during_cpu" in idl:
                e0, e1 = (c["bytes"] / 1e6 / max(c["ork_cpu_s"], 1e-9) for c in (idl["bulk_before_cpu"], idl["bulk_during_cpu"]))
                lines[-1] += f"; MB per ork CPU-second {e1:.0f} vs {e0:.0f} ({e1 / e0:.2f})"
            lines[-1] += ".\n"
    lines.extend(bench_http.table_rows(results["phases"]))
    lines.append("## Targets\n")
    lines.append("| target | measured (mix 0) | met |")
    lines.append("|---|---|---|")
    ph0 = results["phases"][0]
    checks = []
    if "5/rc4" in ph0.get("bulk", {}):
        v = ph0["bulk"]["5/rc4"] / 1e6
        checks.append(("5-hop RC4 bulk ≥ 40 MB/s", f"{v:.1f} MB/s", v >= TARGETS["rc4_5hop_mbs"]))
    if "ttfb_s" in ph0:
        v = statistics.median(ph0["ttfb_s"]) * 1e3
        checks.append(("setup + 1 KiB TTFB, 5 hops, median ≤ 8 ms", f"{v:.2f} ms", v <= TARGETS["ttfb_median_ms"]))
    if "flood" in ph0:
        v = ph0["flood"]["ratio"]
        checks.append(("peel rate ≥ 0.8 × RSA bound", f"{v:.2f}", v >= TARGETS["peel_ratio"]))
    if "idle" in ph0:
        v = max(r["VmRSS"] for r in ph0["idle"]["rss_kib"]) / 1024
        checks.append(("10⁴ idle connections, router RSS ≤ 64 MiB", f"{v:.1f} MiB (max)", v <= TARGETS["idle_rss_mib"]))
    for what, v, ok in checks:
        lines.append(f"| {what} | {v} | {'yes' if ok else 'no'} |")
    lines.append("")
    return "\n".join(lines)


def plots(results, out):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib not available: no plots")
        return []
    files = []
    phases = results["phases"]
    fig, axes = plt.subplots(1, len(phases), figsize=(6 * len(phases), 4.5), squeeze=False, sharey=True)
    for ax, ph in zip(axes[0], phases):
        for c in CIPHERS:
            pts = sorted((int(k.split("/")[0]), v / 1e6) for k, v in ph["bulk"].items() if k.endswith("/" + c))
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=c)
        ax.axhline(ph["direct_bulk_Bps"] / 1e6, color="grey", linestyle="--", label="direct loopback")
        ax.set_yscale("log")
        ax.set_xlabel("hops")
        ax.set_xticks(sorted({int(k.split("/")[0]) for k in ph["bulk"]}))
        ax.set_title(f"mixing interval {ph['mix']}")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("MB/s, one connection")
    axes[0][-1].legend()
    fig.tight_layout()
    path = os.path.join(out, "throughput_vs_hops.png")
    fig.savefig(path, dpi=110)
    files.append(path)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    series = [(f"5 hops, mix {ph['mix']}", ph["ttfb_s"]) for ph in phases if "ttfb_s" in ph]
    if phases and "direct_ttfb_s" in phases[0]:
        series.append(("direct", phases[0]["direct_ttfb_s"]))
    for label, xs in series:
        xs = sorted(x * 1e3 for x in xs)
        ax.plot(xs, [(i + 1) / len(xs) for i in range(len(xs))], label=label)
    ax.set_xscale("log")
    ax.set_xlabel("connect → first byte of 1 KiB response, ms")
    ax.set_ylabel("fraction of connections")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = os.path.join(out, "latency_cdf.png")
    fig.savefig(path, dpi=110)
    files.append(path)
    return files


def report(results, out):
    text = table(results)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(text)
    files = plots(results, out)
    print()
    print(text)
    for p in files:
        log(f"plot: {p}")


# ---------------------------------------------------------------- main


def run(args):
    nofile = raise_nofile()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="ork-bench-")
    ctx = Testbed(args, work)
    ctx.args = args
    results = {
        "meta": {
            "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "cpus": os.cpu_count(),
            "uname": " ".join(os.uname()[i] for i in (0, 2, 4)),
            "nofile": nofile,
            "args": {k: v for k, v in vars(args).items()},
        },
        "phases": [],
    }
    log(f"work directory {work}; open-file limit {nofile}")
    try:
        ctx.keys()
        ctx.start_server()
        for mix in args.mix:
            tag = "mixdefault" if mix == "default" else "mix" + re.sub(r"[^0-9a-z]", "_", mix)
            results["phases"].append(phase(ctx, None if mix == "default" else mix, tag))
            with open(os.path.join(out, "results.json"), "w") as f:
                json.dump(results, f, indent=1)
    finally:
        ctx.shutdown()
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    report(results, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--ork", required=True)
    r.add_argument("--flood", required=True, help="the onion_flood example binary")
    r.add_argument("--out", default="bench-results")
    r.add_argument("--base-port", type=int, default=17001)
    r.add_argument("--hops", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    r.add_argument("--ciphers", nargs="+", default=CIPHERS)
    r.add_argument(
        "--mix",
        nargs="+",
        default=["0", "default"],
        help="'0', 'default', a mixing interval, or INTERVAL/LONE-WAIT (10ms/10ms: the fixed-interval mixer)",
    )
    r.add_argument("--http", type=int, default=50, help="fresh connections for curl via the HTTP proxy (0 to skip)")
    r.add_argument("--connections", type=int, default=300, help="connections for the latency figures")
    r.add_argument("--idle", type=int, default=10000, help="idle connections (0 to skip)")
    r.add_argument("--bulk-seconds", type=float, default=2.0)
    r.add_argument("--flood-seconds", type=float, default=8.0)
    r.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    s = sub.add_parser("serve")
    s.add_argument("port", type=int)
    p = sub.add_parser("report")
    p.add_argument("results")
    a = ap.parse_args()
    if a.cmd == "serve":
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        serve(a.port)
    elif a.cmd == "report":
        with open(a.results) as f:
            report(json.load(f), os.path.dirname(os.path.abspath(a.results)))
    else:
        run(a)


if __name__ == "__main__":
    main()
