#!/usr/bin/env python3
"""Watch a process tree (Shadow and the programs it runs) from outside: its peak total resident
memory and each program's CPU time (user + system, from /proc), sampled every second.

    sampler.py PID OUT.json     runs until PID exits, then writes OUT.json

Shadow does not charge CPU time to simulated time, so the real CPU each router burns is read
here. A program's last second before it exits can be missed.
"""

import json
import os
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def snapshot():
    """{pid: (ppid, rss_bytes, cpu_seconds)} for every process."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rfind(")") + 2:].split()
        out[int(d)] = (int(fields[1]), int(fields[21]) * PAGE, (int(fields[11]) + int(fields[12])) / TICK)
    return out


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def main():
    root, out = int(sys.argv[1]), sys.argv[2]
    peak, cpu, names = 0, {}, {}
    while os.path.exists(f"/proc/{root}"):
        snap = snapshot()
        tree, todo = set(), [root]
        children = {}
        for pid, (ppid, _, _) in snap.items():
            children.setdefault(ppid, []).append(pid)
        while todo:
            p = todo.pop()
            tree.add(p)
            todo.extend(children.get(p, []))
        peak = max(peak, sum(snap[p][1] for p in tree if p in snap))
        for p in tree:
            if p in snap:
                if p not in names:
                    names[p] = cmdline(p)
                cpu[p] = snap[p][2]
        time.sleep(1.0)
    per = [{"cmd": names[p], "cpu_s": round(cpu[p], 2)} for p in sorted(cpu)]
    with open(out, "w") as f:
        json.dump({"peak_rss_mb": round(peak / 2**20, 1), "processes": per}, f, indent=1)


if __name__ == "__main__":
    main()
