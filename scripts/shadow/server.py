#!/usr/bin/env python3
"""The servers of the Shadow simulation: `GET ID SIZE\n` answers SIZE bytes of body.py's body for
ID; `ECHO ID\n` echoes every byte until the client closes. One JSON line per connection in --log
(peer address, id, bytes): the ground truth the timing adversary is scored against."""

import argparse
import asyncio
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import body  # noqa: E402

LOG = None


def log(rec):
    LOG.write(json.dumps(rec, sort_keys=True) + "\n")
    LOG.flush()


async def handle(reader, writer):
    peer = "%s:%d" % writer.get_extra_info("peername")[:2]
    rec = {"peer": peer, "t_accept": round(time.time(), 6)}
    sent = 0
    try:
        line = await asyncio.wait_for(reader.readline(), 120)
        parts = line.decode("ascii", "replace").split()
        if len(parts) == 3 and parts[0] == "GET" and parts[2].isdigit():
            rec.update(kind="get", id=parts[1], size=int(parts[2]))
            for c in body.chunks(parts[1], int(parts[2])):
                writer.write(c)
                sent += len(c)
                await writer.drain()
            await reader.read()  # until the client closes
        elif len(parts) == 2 and parts[0] == "ECHO":
            rec.update(kind="echo", id=parts[1])
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                sent += len(data)
                await writer.drain()
        else:
            rec.update(kind="bad", line=line[:80].decode("ascii", "replace"))
    except (OSError, asyncio.TimeoutError) as e:
        rec["error"] = type(e).__name__
    rec.update(sent=sent, t_close=round(time.time(), 6))
    log(rec)
    writer.close()


async def main():
    global LOG
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--log", default="server.jsonl")
    a = p.parse_args()
    LOG = open(a.log, "a")
    srv = await asyncio.start_server(handle, "0.0.0.0", a.port, backlog=4096)
    print(f"listening on 0.0.0.0:{a.port}", flush=True)
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
