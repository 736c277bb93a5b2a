#!/usr/bin/env python3
"""Turn a finished Shadow run into tables and plots.

    report.py DIR [--check]

DIR/report.md: figures taken from simulated time only (identical for two runs of one seed):
connections by kind and outcome, failures by reason, set-up time, time to first byte, throughput
per client, routers' cells forwarded and onions peeled, link counts (links that went down, from
the routers' logs: router-router, authorities' reachability probes, onion proxies), churn.
DIR/report-run.md: what the machine measured (wall time, simulated/real ratio, peak memory, CPU
time per router). DIR/plots/*.png (matplotlib) or *.svg (standard library, when matplotlib is
missing).
--check exits 1 unless every connection succeeded (bodies verified by SHA-256 at the clients).
"""

import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plots  # noqa: E402


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def dist_row(name, xs, unit="s", scale=1.0):
    if not xs:
        return f"| {name} | 0 | | | | | |"
    v = [x * scale for x in xs]
    return (f"| {name} | {len(v)} | {pct(v, 10):.3f} | {pct(v, 50):.3f} | {pct(v, 90):.3f} | "
            f"{pct(v, 99):.3f} | {max(v):.3f} |")


def load(d):
    hosts = os.path.join(d, "shadow.data", "hosts")
    plan = json.load(open(os.path.join(d, "plan.json")))
    conns = []
    for c in sorted(plan["clients"]):
        path = os.path.join(hosts, c, "traffic.jsonl")
        for line in open(path) if os.path.exists(path) else []:
            rec = json.loads(line)
            rec["client"] = c
            conns.append(rec)
    status = {}
    for r in plan["routers"]:
        path = os.path.join(hosts, r, "status.json")
        if os.path.exists(path):
            try:
                status[r] = json.load(open(path))
            except ValueError:
                pass  # a router killed mid-write
    return plan, conns, status


def links_down(hosts, plan):
    """Link-down lines in the routers' logs, by who was at the other end.

    A router logs `link down: router ADDR (REASON)` for a neighbour (each end of a link logs its
    own) and `link down: anonymous client IP:PORT (REASON)` for an anonymous client: a directory
    authority's reachability probe (it connects every period, checks the key, closes), an onion
    proxy's link, or anything else. Returns (router losses by reason, probes, proxies, others).
    """
    auth_ips = set(plan.get("authorities", {}).values())
    client_ips = {c["ip"] for c in plan["clients"].values()}
    by_reason, probes, proxies, others = {}, 0, 0, 0
    for r in sorted(plan["routers"]):
        for path in sorted(glob.glob(os.path.join(hosts, r, "*.stderr"))):
            for line in open(path, errors="replace"):
                i = line.find("link down: ")
                if i < 0 or "router::links]" not in line[:i]:
                    continue
                peer, _, reason = line[i + len("link down: "):].rstrip("\n").partition(" (")
                if peer.startswith("router "):
                    reason = reason[:-1] if reason.endswith(")") else reason
                    by_reason[reason] = by_reason.get(reason, 0) + 1
                    continue
                ip = peer.rsplit(" ", 1)[-1].rsplit(":", 1)[0]
                if ip in auth_ips:
                    probes += 1
                elif ip in client_ips:
                    proxies += 1
                else:
                    others += 1
    return by_reason, probes, proxies, others


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        sys.exit("usage: report.py DIR [--check]")
    d = args[0]
    plan, conns, status = load(d)
    a = plan["args"]
    ok = [c for c in conns if c["ok"]]
    unfinished = [c for c in conns if c.get("reason") == "unfinished at end of run"]
    failed = [c for c in conns if not c["ok"] and c not in unfinished]
    reasons = {}
    for c in failed:
        reasons[c["reason"]] = reasons.get(c["reason"], 0) + 1
    L = [f"# Shadow run: {len(plan['routers'])} routers, {len(plan['clients'])} clients x {a['slots']} "
         f"slots, {len(plan['servers'])} servers, {a['duration']} simulated s",
         "",
         f"Seed {a['seed']}, mode {a['mode']}, {a['hops']} hops, mixing interval {a['mix_interval']}"
         f"{', lone wait ' + a['mix_lone_wait'] if a.get('mix_lone_wait') else ''}, "
         f"padding {a['padding_rate']:g} cells/s per link, {a['neighbours']} neighbours per router "
         f"({plan['links']} router links), churn {a['churn']:g}.",
         "", "## Connections", "",
         "| kind | opened | succeeded | failed | unfinished at end |", "|---|---|---|---|---|"]
    for kind in sorted({c["kind"] for c in conns}):
        ks = [c for c in conns if c["kind"] == kind]
        L.append(f"| {kind} | {len(ks)} | {sum(c['ok'] for c in ks)} | {sum(c in failed for c in ks)} | "
                 f"{sum(c in unfinished for c in ks)} |")
    L.append(f"| all | {len(conns)} | {len(ok)} | {len(failed)} | {len(unfinished)} |")
    L += ["", "Every success had its body's SHA-256 (or the echo) checked at the client.", "",
          "## Failures by reason", ""]
    if reasons:
        L += ["| reason | connections |", "|---|---|"]
        L += [f"| {r} | {n} |" for r, n in sorted(reasons.items(), key=lambda x: (-x[1], x[0]))]
    else:
        L.append("None.")
    setup = [c["setup"] for c in conns if "setup" in c and (c["ok"] or c in failed)]
    ttfb = [c["ttfb"] for c in ok if "ttfb" in c and c["kind"] != "interactive"]
    echo = [x for c in ok for x in c.get("echo_rtt", [])]
    per_client = {}
    for c in ok:
        if c["kind"] in ("web", "bulk", "control") and c.get("transfer", 0) > 0:
            b, t = per_client.get(c["client"], (0, 0.0))
            per_client[c["client"]] = (b + c["bytes"], t + c["transfer"])
    tput = [b / t / 1e6 for b, t in per_client.values() if t > 0]
    bulk = [c["bytes"] / c["transfer"] / 1e6 for c in ok if c["kind"] == "bulk" and c.get("transfer", 0) > 0]
    L += ["", "## Times (simulated)", "", "| measure | n | p10 | p50 | p90 | p99 | max |", "|---|---|---|---|---|---|---|",
          dist_row("set-up: connect to status byte (s)", setup),
          dist_row("time to first byte, web+bulk (s)", ttfb),
          dist_row("interactive echo round trip (s)", echo),
          dist_row("throughput per client (MB/s)", tput),
          dist_row("throughput per bulk download (MB/s)", bulk), ""]
    cells = {r: sum(x["cells_out"] for x in s["links"]) for r, s in status.items()}
    peeled = {r: s["stats"]["onions_peeled"] for r, s in status.items()}
    router_links = {r: sum(1 for x in s["links"] if x["peer"].startswith("router")) for r, s in status.items()}
    client_links = {r: sum(1 for x in s["links"] if not x["peer"].startswith("router")) for r, s in status.items()}
    refused = {}
    for s in status.values():
        for k, v in s["stats"]["onions_refused"].items():
            refused[k] = refused.get(k, 0) + v
    down_reasons, probes, proxies, others = links_down(os.path.join(d, "shadow.data", "hosts"), plan)
    killed = {r: v["killed_at"] for r, v in plan["routers"].items() if v["killed_at"] is not None}
    L += ["## Routers (last status snapshot of each)", "", "| measure | n | p10 | p50 | p90 | p99 | max |",
          "|---|---|---|---|---|---|---|",
          dist_row("cells sent on its links", list(cells.values()), scale=1),
          dist_row("onions peeled", list(peeled.values())),
          dist_row("router links up", list(router_links.values())),
          dist_row("anonymous-client links", list(client_links.values())), "",
          f"Cells forwarded in all: {sum(cells.values())}; onions peeled: {sum(peeled.values())}; "
          f"onions refused: {json.dumps(refused, sort_keys=True) if refused else 'none'}.",
          f"Links: {plan['links']} in the topology; at the end {sum(router_links.values()) // 2} router-router "
          f"links up (counted from both ends, halved).",
          f"Links that went down (routers' logs): {sum(down_reasons.values())} router-router link ends "
          f"(each end counts its own; {', '.join(f'{n} {r}' for r, n in sorted(down_reasons.items())) or 'none'}), "
          f"{probes} directory authorities' reachability probes (connect, check the key, close), "
          f"{proxies} onion proxies' links" + (f", {others} other anonymous clients" if others else "") + ".",
          f"Churn: {len(killed)} routers killed (SIGKILL) at simulated seconds "
          f"{', '.join(f'{r}@{t}' for r, t in sorted(killed.items(), key=lambda x: x[1])) or '-'}.", ""]
    with open(os.path.join(d, "report.md"), "w") as f:
        f.write("\n".join(L))
    print("\n".join(L))

    run_path = os.path.join(d, "run.json")
    cpu = {}
    if os.path.exists(run_path):
        run = json.load(open(run_path))
        for p in run["processes"]:
            for tok in p["cmd"].split():
                name = os.path.basename(tok)[:-4] if tok.endswith(".key") else None
                if name in plan["routers"]:
                    cpu[name] = p["cpu_s"]
        R = ["# Measured on the machine (varies run to run)", "",
             f"Wall time {run['wall_s']} s for {run['sim_s']} simulated s ({run['sim_per_real']}x real time), "
             f"peak memory (Shadow and every simulated process) {run['peak_rss_mb']} MB, Shadow exit "
             f"{run['shadow_exit']}.", "", "| measure | n | p10 | p50 | p90 | p99 | max |",
             "|---|---|---|---|---|---|---|", dist_row("CPU time per router (s)", list(cpu.values())),
             f"", f"CPU time of all routers: {sum(cpu.values()):.1f} s.", ""]
        with open(os.path.join(d, "report-run.md"), "w") as f:
            f.write("\n".join(R))
        print("\n".join(R))
    out = os.path.join(d, "plots")
    os.makedirs(out, exist_ok=True)
    plots.cdf(os.path.join(out, "setup_ttfb"), "Connection set-up and time to first byte", "seconds",
              {"set-up": setup, "TTFB (web+bulk)": ttfb}, log=True)
    plots.cdf(os.path.join(out, "throughput"), "Throughput per client", "MB/s", {"per client": tput})
    plots.bars(os.path.join(out, "failures"), "Failures by reason", reasons or {"none": 0})
    plots.scatter(os.path.join(out, "router_load"), "Routers: cells forwarded vs CPU time",
                  "cells forwarded", "CPU s", [(cells[r], cpu[r]) for r in cells if r in cpu] or
                  [(cells[r], 0) for r in cells])
    hist = {}
    for n in router_links.values():
        hist[str(n)] = hist.get(str(n), 0) + 1
    plots.bars(os.path.join(out, "links"), "Router links up per router (end of run)",
               dict(sorted(hist.items(), key=lambda x: int(x[0]))))
    print(f"plots in {out} ({plots.KIND})")
    if "--check" in sys.argv:
        if failed or unfinished or not conns:
            sys.exit(f"report: {len(failed)} failed, {len(unfinished)} unfinished of {len(conns)} connections")


if __name__ == "__main__":
    main()
