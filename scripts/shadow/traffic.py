#!/usr/bin/env python3
"""A client host's traffic generator: anonymous connections through the local onion proxy (the
standard structure, protocol 4) to the simulation's servers, one JSON line per connection.

Modes:
  mixed    --slots loops run at once; each opens, one after another, web-like requests (small
           bodies, then a pause), bulk downloads (up to --bulk-kib) and idle interactive sessions
           (a few bytes every few seconds, echoed), in the shares and sizes of --profile.
           Nothing new starts after --end.
  control  one connection in the whole network at a time: client I fetches 64 KiB at
           t0 + (J * clients + I) * 4 s (the timing adversary's control).
Every body is checked by SHA-256 (body.py); an echo by comparing what came back.
"""

import argparse
import asyncio
import hashlib
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import body  # noqa: E402

STATUS = {1: "bad version", 2: "bad address format", 3: "bad address", 4: "bad port",
          5: "connection to destination failed", 6: "rejected by policy",
          7: "anonymous connection could not be built", 8: "bad protocol"}
STALL = 60.0  # seconds without progress before a connection counts as stalled
# What a slot's loop opens (shares of web and bulk; the rest interactive sessions), web body
# sizes (lognormal, median e^mu bytes, capped), the pause after a web page, and the smallest bulk
# download. `light` moves about an eighth of `default`'s bytes per slot (docs/shadow.md).
PROFILES = {
    "default": {"web": 0.6, "bulk": 0.15, "web_mu": 10.3, "web_max": 512 * 1024, "think": (1, 10),
                "bulk_min_kib": 256},
    "light": {"web": 0.6, "bulk": 0.1, "web_mu": 9.0, "web_max": 128 * 1024, "think": (5, 30),
              "bulk_min_kib": 64},
}
CONTROL_GAP = 4.0


class Failure(Exception):
    pass


class Client:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.proxy = a.proxy.rsplit(":", 1)
        self.servers = a.servers.split(",")
        self.mono0 = time.monotonic()
        self.n = 0
        self.log = open(a.log, "a")

    def sim(self):
        """Simulated seconds since the start of the simulation."""
        return self.a.t0 + time.monotonic() - self.mono0

    def record(self, rec):
        self.log.write(json.dumps(rec, sort_keys=True) + "\n")
        self.log.flush()

    async def read(self, reader, n):
        data = await asyncio.wait_for(reader.read(n), STALL)
        if not data:
            raise Failure("closed early")
        return data

    async def connection(self, kind, size=0, session=0.0):
        self.n += 1
        rid = f"c{self.a.index}-{self.n}"
        host, port = self.rng.choice(self.servers).rsplit(":", 1)
        rec = {"id": rid, "kind": kind, "server": f"{host}:{port}", "t_open": round(time.time(), 6),
               "size": size, "bytes": 0, "ok": False}
        t0 = time.monotonic()
        writer = None
        try:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(self.proxy[0], int(self.proxy[1])), STALL)
            except (OSError, asyncio.TimeoutError) as e:
                raise Failure(f"onion proxy unreachable ({type(e).__name__})")
            first = f"GET {rid} {size}\n" if kind != "interactive" else f"ECHO {rid}\n"
            writer.write(bytes([1, 4, 0, 1]) + f"{host}\0{port}\0".encode() + first.encode())
            status = (await self.read(reader, 1))[0]
            rec["setup"] = round(time.monotonic() - t0, 6)
            if status != 0:
                raise Failure(f"status {status} ({STATUS.get(status, 'unknown')})")
            if kind == "interactive":
                await self.interactive(reader, writer, rec, session, t0)
            else:
                await self.download(reader, rid, size, rec, t0)
            rec["ok"] = True
        except Failure as e:
            rec["reason"] = str(e)
        except asyncio.TimeoutError:
            rec["reason"] = f"stalled ({STALL:.0f} s without data)"
        except OSError as e:
            rec["reason"] = f"connection error ({type(e).__name__})"
        except asyncio.CancelledError:
            rec["reason"] = "unfinished at end of run"
            self.record(rec)
            raise
        finally:
            rec["duration"] = round(time.monotonic() - t0, 6)
            if writer is not None:
                writer.close()
        self.record(rec)

    async def download(self, reader, rid, size, rec, t0):
        want = body.digest(rid, size)
        h = hashlib.sha256()
        got = 0
        while got < size:
            data = await self.read(reader, min(65536, size - got))
            if got == 0:
                rec["ttfb"] = round(time.monotonic() - t0, 6)
            h.update(data)
            got += len(data)
            rec["bytes"] = got
        rec["transfer"] = round(time.monotonic() - t0 - rec["ttfb"], 6)
        if h.hexdigest() != want:
            raise Failure("body SHA-256 mismatch")

    async def interactive(self, reader, writer, rec, session, t0):
        end = time.monotonic() + session
        while time.monotonic() < end:
            await asyncio.sleep(self.rng.uniform(0.2, 5.0))
            msg = bytes(self.rng.randrange(32, 127) for _ in range(self.rng.randrange(1, 65)))
            t = time.monotonic()
            writer.write(msg)
            got = b""
            while len(got) < len(msg):
                got += await self.read(reader, len(msg) - len(got))
            if "ttfb" not in rec:
                rec["ttfb"] = round(time.monotonic() - t0, 6)
            rec.setdefault("echo_rtt", []).append(round(time.monotonic() - t, 6))
            if got != msg:
                raise Failure("echo mismatch")
            rec["bytes"] += len(msg)

    async def slot(self):
        a = self.a
        pr = PROFILES[a.profile]
        while self.sim() < a.end:
            x = self.rng.random()
            if x < pr["web"]:
                size = int(min(pr["web_max"], max(1024, self.rng.lognormvariate(pr["web_mu"], 1.0))))
                await self.connection("web", size)
                await asyncio.sleep(self.rng.uniform(*pr["think"]))
            elif x < pr["web"] + pr["bulk"]:
                low = pr["bulk_min_kib"]
                await self.connection("bulk", self.rng.randrange(low * 1024, max(a.bulk_kib, low + 1) * 1024))
            else:
                left = a.end - self.sim()
                if left > 5:
                    await self.connection("interactive", session=min(left - 2, self.rng.uniform(20, 120)))
                await asyncio.sleep(self.rng.uniform(0.5, 2))

    async def control(self):
        a, j = self.a, 0
        while True:
            at = a.t0 + 2 + (j * a.clients + a.index) * CONTROL_GAP
            if at > a.end:
                return
            await asyncio.sleep(max(0.0, at - self.sim()))
            await self.connection("control", 64 * 1024)
            j += 1

    async def run(self):
        a = self.a
        if a.mode == "control":
            jobs = [asyncio.ensure_future(self.control())]
        else:
            jobs = []
            for _ in range(a.slots):
                jobs.append(asyncio.ensure_future(self.slot()))
                # Slots start spread over about 5 s, not all at once.
                await asyncio.sleep(self.rng.uniform(0, 10 / a.slots))
        grace = a.end + a.grace - self.sim()
        done, pending = await asyncio.wait(jobs, timeout=max(1.0, grace))
        for j in pending:
            j.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--proxy", default="127.0.0.1:9050")
    p.add_argument("--servers", required=True, help="HOST:PORT,...")
    p.add_argument("--slots", type=int, default=5)
    p.add_argument("--mode", choices=["mixed", "control"], default="mixed")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--t0", type=float, default=0, help="simulated time at which this process starts")
    p.add_argument("--end", type=float, required=True, help="simulated time after which nothing new starts")
    p.add_argument("--grace", type=float, default=25, help="seconds after --end for running connections")
    p.add_argument("--index", type=int, default=0)
    p.add_argument("--clients", type=int, default=1)
    p.add_argument("--bulk-kib", type=int, default=1024)
    p.add_argument("--profile", choices=sorted(PROFILES), default="default")
    p.add_argument("--log", default="traffic.jsonl")
    asyncio.run(Client(p.parse_args()).run())


if __name__ == "__main__":
    main()
