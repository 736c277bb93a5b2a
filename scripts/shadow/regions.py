"""The simulated Internet's regions: one-way latencies between them and host bandwidths.

Round-trip figures are rounded medians of public inter-city ping tables (WonderNetwork's global
ping statistics between representative cities, Verizon's published IP-latency averages for the
trans-Atlantic and trans-Pacific routes). They look like measurements; they are not measurements
of ours. Shadow's graph takes one-way latency: half the round trip. Host bandwidths follow the
shape of a volunteer network (a few fast relays, many modest ones) and of residential access.
"""

# Region name, representative city (for the documentation).
REGIONS = [
    ("na-east", "New York"),
    ("na-west", "San Francisco"),
    ("europe", "Frankfurt"),
    ("asia", "Singapore"),
    ("south-america", "Sao Paulo"),
    ("oceania", "Sydney"),
]

# Round-trip times in ms; the diagonal is the median RTT between two hosts of the same region.
RTT_MS = [
    # na-e na-w  eu  asia  sa  oce
    [20, 70, 85, 230, 120, 200],  # na-east
    [70, 20, 145, 170, 180, 150],  # na-west
    [85, 145, 15, 160, 200, 280],  # europe
    [230, 170, 160, 30, 320, 95],  # asia
    [120, 180, 200, 320, 25, 310],  # south-america
    [200, 150, 280, 95, 310, 20],  # oceania
]

# Share of hosts placed in each region (routers, clients and servers alike): most of the
# volunteer network sits in Europe and North America.
WEIGHTS = [0.22, 0.12, 0.45, 0.1, 0.06, 0.05]

# Router bandwidth classes (Mbit/s, symmetric) and their shares.
ROUTER_BW = [(10, 0.3), (50, 0.35), (100, 0.25), (1000, 0.1)]
# Client access: (down, up) Mbit/s and shares.
CLIENT_BW = [((25, 5), 0.3), ((100, 20), 0.5), ((500, 100), 0.2)]
SERVER_BW = 1000


def gml(latency_scale=1.0):
    """The Shadow network graph: one node per region, an edge for every pair and a self-loop."""
    out = ["graph [", "  directed 0"]
    for i, (name, _) in enumerate(REGIONS):
        # Host bandwidth is set per host; the node's is a default Shadow requires.
        out += ["  node [", f"    id {i}", f'    label "{name}"', '    host_bandwidth_down "1 Gbit"',
                '    host_bandwidth_up "1 Gbit"', "  ]"]
    for i in range(len(REGIONS)):
        for j in range(i, len(REGIONS)):
            one_way = RTT_MS[i][j] * latency_scale / 2
            out += ["  edge [", f"    source {i}", f"    target {j}", f'    latency "{round(one_way * 1000)} us"',
                    "    packet_loss 0.0", "  ]"]
    out.append("]")
    return "\n".join(out) + "\n"


def pick(rng, table):
    """One value of a (value, share) table."""
    x, acc = rng.random(), 0.0
    for value, share in table:
        acc += share
        if x < acc:
            return value
    return table[-1][0]


def region(rng):
    return pick(rng, list(zip(range(len(REGIONS)), WEIGHTS)))
