#!/usr/bin/env python3
"""The timing adversary: match each exit->server connection to the client that made it, from
packet captures at the two vantage points only (no keys, no router state).

    adversary.py DIR... [--bin 0.05] [--max-lag 2.0] [--expect-all] [--plot PATH]

It sees each client host's link to its entry router (DIR/shadow.data/hosts/clientN/eth0.pcap)
and each server's TCP connections (serverN/eth0.pcap), both captured by Shadow (gen.py --pcap).
For every server connection it takes the payload bytes per --bin seconds in each direction over
the connection's lifetime, and for every client the bytes per bin on its link; the score of a
client is the best, over lags 0..--max-lag, of the Pearson correlation of the concatenated series
(server->exit against entry->client shifted later by the lag; exit->server against
client->entry shifted earlier), scaled down by the share of the connection's bytes the client's
link carried in the window when that is below 1 (a volume check). Clients are ranked by score. The servers' logs (which client id
asked for what, from which exit address and port) are the ground truth, used only to score.
Writes DIR/attack.json and prints one table row per DIR. --expect-all exits 1 unless every
connection's true client ranks first (the control). --plot PATH draws the true-match rate per
run (PATH.png, or PATH.svg without matplotlib).
"""

import glob
import json
import math
import os
import struct
import sys


def packets(path):
    """(time, src, sport, dst, dport, payload_len, flags) of every TCP packet in a raw-IP pcap."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    skip = 14 if linktype == 1 else 0
    off = 24
    hdr = struct.Struct(endian + "IIII")
    while off + 16 <= len(data):
        ts, frac, incl, _orig = hdr.unpack_from(data, off)
        p = off + 16 + skip
        off += 16 + incl
        if p + 20 > off or data[p] >> 4 != 4 or data[p + 9] != 6:
            continue
        ihl = (data[p] & 15) * 4
        total = struct.unpack_from(">H", data, p + 2)[0]
        t = p + ihl
        if t + 14 > off:
            continue
        sport, dport = struct.unpack_from(">HH", data, t)
        doff = (data[t + 12] >> 4) * 4
        src = ".".join(map(str, data[p + 12:p + 16]))
        dst = ".".join(map(str, data[p + 16:p + 20]))
        yield ts + frac / (1e9 if nano else 1e6), src, sport, dst, dport, total - ihl - doff, data[t + 13]


class Series:
    """Bytes per bin, with prefix sums of x and x^2 for O(1) window statistics."""

    def __init__(self, counts, nbins):
        self.v = [0.0] * nbins
        for b, n in counts.items():
            if 0 <= b < nbins:
                self.v[b] += n
        self.s = [0.0]
        self.s2 = [0.0]
        for x in self.v:
            self.s.append(self.s[-1] + x)
            self.s2.append(self.s2[-1] + x * x)

    def window(self, a, b):
        a, b = max(0, a), min(len(self.v), b)
        if b <= a:
            return 0.0, 0.0
        return self.s[b] - self.s[a], self.s2[b] - self.s2[a]

    def at(self, i):
        return self.v[i] if 0 <= i < len(self.v) else 0.0


def score(flow, client, b0, b1, lag):
    """Pearson correlation of flow (down ++ up over bins b0..b1) with the client's link (down
    shifted +lag, up shifted -lag)."""
    n = 2 * (b1 - b0)
    fd, fu = flow
    cd, cu = client
    sx = sx2 = sxy = 0.0
    for b, x in fd.items():
        sx += x
        sx2 += x * x
        sxy += x * cd.at(b + lag)
    for b, x in fu.items():
        sx += x
        sx2 += x * x
        sxy += x * cu.at(b - lag)
    y1, y1s = cd.window(b0 + lag, b1 + lag)
    y2, y2s = cu.window(b0 - lag, b1 - lag)
    sy, sy2 = y1 + y2, y1s + y2s
    vx = n * sx2 - sx * sx
    vy = n * sy2 - sy * sy
    if vx <= 0 or vy <= 0:
        return -1.0
    r = (n * sxy - sx * sy) / math.sqrt(vx * vy)
    # Volume: the client's link carries at least the connection's bytes (cells add overhead); a
    # link that carried far less in the window cannot be it, however well its few packets line up.
    return r * min(1.0, sy / sx) if r > 0 else r


def analyse(d, binw, max_lag):
    hosts = os.path.join(d, "shadow.data", "hosts")
    plan = json.load(open(os.path.join(d, "plan.json")))
    nbins = int(plan["stop"] / binw) + 2
    clients = {}
    for c, info in sorted(plan["clients"].items()):
        down, up = {}, {}
        for t, src, _sp, dst, _dp, n, _fl in packets(os.path.join(hosts, c, "eth0.pcap")):
            if n <= 0:
                continue
            side = down if dst == info["ip"] else up
            b = int(t / binw)
            side[b] = side.get(b, 0) + n
        clients[c] = (Series(down, nbins), Series(up, nbins))
    flows, truth = {}, {}
    for s, info in sorted(plan["servers"].items()):
        for t, src, sp, dst, dp, n, _fl in packets(os.path.join(hosts, s, "eth0.pcap")):
            key = f"{src}:{sp}" if dst == info["ip"] else f"{dst}:{dp}"
            f = flows.setdefault((s, key), {"down": {}, "up": {}, "t0": t, "t1": t})
            f["t1"] = t
            if n > 0:
                side = f["up"] if dst == info["ip"] else f["down"]
                b = int(t / binw)
                side[b] = side.get(b, 0) + n
        log = os.path.join(hosts, s, "server.jsonl")
        for line in open(log) if os.path.exists(log) else []:
            r = json.loads(line)
            if r.get("id", "").startswith("c"):
                truth[(s, r["peer"])] = "client%d" % (int(r["id"][1:].split("-")[0]) + 1)
    lags = range(0, int(max_lag / binw) + 1)
    ranks = []
    for key, f in sorted(flows.items()):
        if key not in truth or not f["down"]:
            continue
        b0, b1 = int(f["t0"] / binw), int(f["t1"] / binw) + 1
        scores = {c: max(score((f["down"], f["up"]), s, b0, b1, lag) for lag in lags) for c, s in clients.items()}
        true = scores[truth[key]]
        ranks.append(1 + sum(1 for c, v in scores.items() if v > true or (v == true and c < truth[key])))
    a = plan["args"]
    n = len(ranks)
    res = {"dir": d, "mode": a["mode"], "mix_interval": a["mix_interval"], "padding_rate": a["padding_rate"],
           "hops": a["hops"], "slots": a["slots"], "clients": len(clients), "connections": n,
           "true_match_rate": round(sum(r == 1 for r in ranks) / n, 4) if n else None,
           "median_rank": sorted(ranks)[n // 2] if n else None,
           "mean_rank": round(sum(ranks) / n, 2) if n else None,
           "top3_rate": round(sum(r <= 3 for r in ranks) / n, 4) if n else None,
           "chance": round(1 / len(clients), 4), "bin_s": binw, "max_lag_s": max_lag}
    with open(os.path.join(d, "attack.json"), "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
    return res


def main():
    args = sys.argv[1:]
    binw, max_lag, dirs, plot = 0.05, 2.0, [], None
    i = 0
    while i < len(args):
        if args[i] == "--bin":
            binw, i = float(args[i + 1]), i + 2
        elif args[i] == "--max-lag":
            max_lag, i = float(args[i + 1]), i + 2
        elif args[i] == "--plot":
            plot, i = args[i + 1], i + 2
        elif args[i] == "--expect-all":
            i += 1
        elif args[i].startswith("-"):
            sys.exit(f"adversary.py: unknown option {args[i]} (see the docstring)")
        else:
            dirs.append(args[i])
            i += 1
    if not dirs:
        sys.exit("usage: adversary.py DIR... [--bin S] [--max-lag S] [--expect-all]")
    print("| scenario | mixing | padding (cells/s) | hops | load (slots/client) | clients | connections | "
          "true match | top 3 | median rank | mean rank | chance |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    bad = False
    rates = {}
    for d in dirs:
        r = analyse(d, binw, max_lag)
        rates[os.path.basename(os.path.normpath(d))] = round(100 * (r["true_match_rate"] or 0), 1)
        print(f"| {os.path.basename(os.path.normpath(d))} ({r['mode']}) | {r['mix_interval']} | "
              f"{r['padding_rate']:g} | {r['hops']} | {r['slots'] if r['mode'] != 'control' else '1 in all'} | "
              f"{r['clients']} | {r['connections']} | {r['true_match_rate']} | {r['top3_rate']} | "
              f"{r['median_rank']} | {r['mean_rank']} | {r['chance']} |")
        if "--expect-all" in args and (not r["connections"] or r["true_match_rate"] != 1.0):
            print(f"adversary: {d}: expected every true match at rank 1", file=sys.stderr)
            bad = True
    if plot:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import plots

        plots.bars(plot, "Timing adversary: true-match rate (%) per scenario", rates)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
