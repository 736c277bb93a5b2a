#!/usr/bin/env python3
"""Write a Shadow simulation of an ork network: routers on a random connected topology, client
hosts (onion proxy + traffic generator), servers, keys, a regional latency/bandwidth graph.

    gen.py --out DIR [--routers N] [--neighbours K] [--clients C] [--slots S] [--servers S]
           [--duration 60] [--grace 25] [--seed 1] [--churn 0.05] [--mix-interval 10ms] [--padding-rate 0]
           [--hops 5] [--mode mixed|control|attack] [--pcap] [--authorities 3] [--ork PATH]

Writes DIR/shadow.yaml, DIR/plan.json (what the report and the adversary need to know: hosts,
addresses, entry routers, kills), DIR/authorities, DIR/network.txt, DIR/peers/rI.peers,
DIR/keys/. The onion proxies take the network from directory authorities (three by default,
on their own hosts; the routers publish their descriptors to them), or from the network file
with --authorities 0. Python standard library only. Run it with `scripts/shadow.sh run DIR`.
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import regions  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROUTER_PORT, PROXY_PORT, SERVER_PORT, DIRECTORY_PORT = 9001, 9050, 8080, 9030
# With authorities: the consensus period, and when the onion proxies start (after three
# periods, so that every router's descriptor is in a consensus). Beyond 100 routers the period is
# 60 s: at 10 s, 1,000 routers and 100 onion proxies fetching a 1,000-router document every
# period saturate the authorities (votes and consensus fetches time out, documents expire).
def directory_interval(routers):
    return 10 if routers <= 100 else 60


# Authorities are well-connected hosts: every router and onion proxy fetches their document.
AUTHORITY_BW = "1 Gbit"


def topology(rng, n, k):
    """Random connected graph: a random spanning tree, then extra links until each router has k."""
    order = list(range(n))
    rng.shuffle(order)
    edges = set()
    adj = [set() for _ in range(n)]

    def add(a, b):
        edges.add((min(a, b), max(a, b)))
        adj[a].add(b)
        adj[b].add(a)

    for i in range(1, n):
        add(order[i], order[rng.randrange(i)])
    for r in order:
        tries = 0
        while len(adj[r]) < min(k, n - 1) and tries < 50 * k:
            tries += 1
            o = rng.randrange(n)
            if o != r and o not in adj[r]:
                add(r, o)
    return sorted(edges), adj


def addr(kind, i):
    """11.K.X.Y: K = 1 routers, 2 clients, 3 servers, 4 authorities (public-looking, never private)."""
    return f"11.{kind}.{i // 250}.{i % 250 + 1}"


def keygen(ork, prefix):
    if not os.path.exists(prefix + ".key"):
        subprocess.run([ork, "keygen", "--out", prefix], check=True, stdout=subprocess.DEVNULL)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--routers", type=int, default=20)
    p.add_argument("--neighbours", type=int, default=4)
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--slots", type=int, default=5, help="concurrent anonymous connections per client")
    p.add_argument("--servers", type=int, default=3)
    p.add_argument("--duration", type=int, default=60, help="simulated seconds of traffic")
    p.add_argument("--grace", type=int, default=25, help="seconds after --duration for running connections")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--churn", type=float, default=0.0, help="share of routers killed mid-run")
    p.add_argument("--mix-interval", default="10ms")
    p.add_argument("--mix-lone-wait", help="routers' --mix-lone-wait (default: the router's own)")
    p.add_argument("--padding-rate", type=float, default=0)
    p.add_argument("--hops", type=int, default=5)
    p.add_argument("--mode", choices=["mixed", "control", "attack"], default="mixed")
    p.add_argument("--bulk-kib", type=int, help="largest bulk download (default 1024, light: 256)")
    p.add_argument("--profile", choices=["default", "light"], default="default",
                   help="traffic per slot (traffic.py PROFILES; light: about an eighth of the bytes)")
    p.add_argument("--pcap", action="store_true", help="packet capture on client and server hosts")
    p.add_argument("--latency-scale", type=float, default=1.0)
    p.add_argument("--parallelism", type=int, default=2)
    p.add_argument("--authorities", type=int, default=3, help="directory authorities (0: a network file)")
    p.add_argument("--directory-interval", type=int,
                   help="consensus period in seconds (default 10, or 60 beyond 100 routers)")
    p.add_argument("--ork", default=os.path.join(HERE, "..", "..", "target", "release", "ork"))
    a = p.parse_args()
    if a.bulk_kib is None:
        a.bulk_kib = 256 if a.profile == "light" else 1024
    ork = os.path.abspath(a.ork)
    if not os.access(ork, os.X_OK):
        sys.exit(f"gen.py: {ork} is not built (cargo build --release)")
    if a.routers < a.hops or a.clients < 1 or a.servers < 1:
        sys.exit("gen.py: need routers >= hops, clients >= 1, servers >= 1")
    out = os.path.abspath(a.out)
    for d in ("keys", "peers", "bin"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    # The run uses its own copy: a rebuild of target/release/ork during a long run would
    # otherwise give the processes started later (clients, churned routers) another binary.
    built, ork = ork, os.path.join(out, "bin", "ork")
    shutil.copy2(built, ork)
    rng = random.Random(a.seed)
    python = shutil.which("python3") or "/usr/bin/python3"

    edges, adj = topology(rng, a.routers, a.neighbours)
    names = [f"r{i + 1}" for i in range(a.routers)]
    for n in names:
        keygen(ork, os.path.join(out, "keys", n))
    with open(os.path.join(out, "network.txt"), "w") as f:
        for i, n in enumerate(names):
            f.write(f"router {n} {addr(1, i)}:{ROUTER_PORT} keys/{n}.pub\n")
        for x, y in edges:
            f.write(f"link {names[x]} {names[y]}\n")
    for i, n in enumerate(names):
        with open(os.path.join(out, "peers", n + ".peers"), "w") as f:
            for j in sorted(adj[i]):
                f.write(f"{addr(1, j)}:{ROUTER_PORT} ../keys/{names[j]}.pub\n")
    with open(os.path.join(out, "exit-policy.txt"), "w") as f:
        f.write("accept *:*\n")
    auths = [f"auth{k + 1}" for k in range(a.authorities)]
    for n in auths:
        keygen(ork, os.path.join(out, "keys", n))
    with open(os.path.join(out, "authorities"), "w") as f:
        for k, n in enumerate(auths):
            f.write(f"{addr(4, k)}:{DIRECTORY_PORT} keys/{n}.pub\n")

    interval = a.directory_interval or directory_interval(a.routers)
    start_routers, start_clients = 1, (10 + 3 * interval if auths else 10)
    stop = start_clients + a.duration + a.grace + 5
    entries = [rng.randrange(a.routers) for _ in range(a.clients)]
    # Churn: kill routers that are nobody's entry (the onion proxies' only link), mid-run.
    candidates = [i for i in range(a.routers) if i not in set(entries)]
    kills = {}
    for i in rng.sample(candidates, min(len(candidates), int(round(a.churn * a.routers)))):
        kills[i] = start_clients + int(a.duration * (0.3 + 0.4 * rng.random()))

    hosts = {}
    plan = {"args": vars(a), "routers": {}, "clients": {}, "servers": {}, "stop": stop, "start": start_clients}
    for i, n in enumerate(names):
        bw = regions.pick(rng, regions.ROUTER_BW)
        node = regions.region(rng)
        proc = {
            "path": ork,
            "args": ["router", "--listen", f"{addr(1, i)}:{ROUTER_PORT}", "--key", f"{out}/keys/{n}.key",
                     "--neighbors", f"{out}/peers/{n}.peers", "--exit-policy", f"{out}/exit-policy.txt",
                     "--status-file", "status.json", "--mix-interval", a.mix_interval,
                     "--padding-rate", f"{a.padding_rate:g}"]
            + (["--mix-lone-wait", a.mix_lone_wait] if a.mix_lone_wait else [])
            + (["--directory", f"{out}/authorities", "--name", n] if auths else []),
            "environment": {"RUST_LOG": "info"},
            "start_time": f"{start_routers}s",
            "expected_final_state": "running",
        }
        if i in kills:
            proc["shutdown_time"] = f"{kills[i]}s"
            proc["shutdown_signal"] = "SIGKILL"
            proc["expected_final_state"] = {"signaled": "SIGKILL"}
        hosts[n] = {"network_node_id": node, "ip_addr": addr(1, i), "bandwidth_down": f"{bw} Mbit",
                    "bandwidth_up": f"{bw} Mbit", "processes": [proc]}
        plan["routers"][n] = {"ip": addr(1, i), "region": regions.REGIONS[node][0], "mbit": bw,
                              "neighbours": len(adj[i]), "killed_at": kills.get(i)}
    for k, n in enumerate(auths):
        hosts[n] = {"network_node_id": regions.region(rng), "ip_addr": addr(4, k), "bandwidth_down": AUTHORITY_BW,
                    "bandwidth_up": AUTHORITY_BW, "processes": [{
                        "path": ork, "args": ["directory", "--listen", f"{addr(4, k)}:{DIRECTORY_PORT}",
                                              "--key", f"{out}/keys/{n}.key", "--authorities", f"{out}/authorities",
                                              "--state-dir", "state", "--interval", f"{interval}s"],
                        "environment": {"RUST_LOG": "info"}, "start_time": "1s", "expected_final_state": "running"}]}
    plan["authorities"] = {n: addr(4, k) for k, n in enumerate(auths)}
    servers = []
    for s in range(a.servers):
        n = f"server{s + 1}"
        node = regions.region(rng)
        servers.append(f"{addr(3, s)}:{SERVER_PORT}")
        hosts[n] = {"network_node_id": node, "ip_addr": addr(3, s), "bandwidth_down": f"{regions.SERVER_BW} Mbit",
                    "bandwidth_up": f"{regions.SERVER_BW} Mbit", "processes": [{
                        "path": python, "args": [f"{HERE}/server.py", "--port", str(SERVER_PORT),
                                                 "--log", "server.jsonl"],
                        "start_time": "1s", "expected_final_state": "running"}]}
        if a.pcap:
            hosts[n]["host_options"] = {"pcap_enabled": True, "pcap_capture_size": 96}
        plan["servers"][n] = {"ip": addr(3, s), "region": regions.REGIONS[node][0]}
    for c in range(a.clients):
        n = f"client{c + 1}"
        node = regions.region(rng)
        down, up = regions.pick(rng, regions.CLIENT_BW)
        entry = names[entries[c]]
        procs = [
            {"path": ork, "args": ["onion-proxy", "--listen", f"127.0.0.1:{PROXY_PORT}"]
             + (["--directory", f"{out}/authorities", "--state-dir", "state"] if auths
                else ["--network", f"{out}/network.txt"])
             + ["--entry", entry, "--hops", str(a.hops)],
             "environment": {"RUST_LOG": "info"}, "start_time": f"{start_clients - 4}s",
             "expected_final_state": "running"},
            {"path": python, "args": [f"{HERE}/traffic.py", "--proxy", f"127.0.0.1:{PROXY_PORT}",
                                      "--servers", ",".join(servers), "--slots", str(a.slots),
                                      "--mode", a.mode, "--seed", str(rng.randrange(2**31)),
                                      "--t0", str(start_clients), "--end", str(start_clients + a.duration),
                                      "--grace", str(a.grace),
                                      "--index", str(c), "--clients", str(a.clients),
                                      "--bulk-kib", str(a.bulk_kib), "--profile", a.profile,
                                      "--log", "traffic.jsonl"],
             "start_time": f"{start_clients}s", "expected_final_state": {"exited": 0}},
        ]
        hosts[n] = {"network_node_id": node, "ip_addr": addr(2, c), "bandwidth_down": f"{down} Mbit",
                    "bandwidth_up": f"{up} Mbit", "processes": procs}
        if a.pcap:
            hosts[n]["host_options"] = {"pcap_enabled": True, "pcap_capture_size": 96}
        plan["clients"][n] = {"ip": addr(2, c), "region": regions.REGIONS[node][0], "entry": entry,
                              "entry_ip": addr(1, entries[c]), "mbit_down": down}
    plan["links"] = len(edges)

    config = {
        "general": {"stop_time": f"{stop}s", "seed": a.seed, "parallelism": a.parallelism,
                    "model_unblocked_syscall_latency": True, "progress": False, "data_directory": "shadow.data"},
        "network": {"graph": {"type": "gml", "inline": regions.gml(a.latency_scale)}},
        "experimental": {"use_memory_manager": False},
        "hosts": hosts,
    }
    # JSON is YAML: no YAML library needed.
    with open(os.path.join(out, "shadow.yaml"), "w") as f:
        json.dump(config, f, indent=1)
    with open(os.path.join(out, "plan.json"), "w") as f:
        json.dump(plan, f, indent=1, sort_keys=True)
    print(f"gen.py: {a.routers} routers ({len(edges)} links), {a.clients} clients x {a.slots} slots, "
          f"{a.servers} servers, {len(kills)} killed mid-run, {a.duration} s ({a.mode}) -> {out}")


if __name__ == "__main__":
    main()
