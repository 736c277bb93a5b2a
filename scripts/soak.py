"""Soak the loopback testbed (scripts/testbed.sh must have brought it up in DIR): mixed HTTP
(through the HTTP proxy), SMTP (through the SMTP proxy) and raw echo traffic (standard structure
straight to the onion proxy) for DURATION seconds while routers are killed and restarted at
random. Every connection ends in exactly one of: completed with its bytes verified, refused with
a status byte, or broken (closed early with a correct prefix: a router died under it). Anything
else -- bytes that differ, a mail the server acknowledged that never arrived -- is corruption or
silent loss, and makes the soak fail. Usage: soak.py DIR DURATION-SECONDS. Loopback only."""
import collections
import hashlib
import os
import random
import smtplib
import socket
import subprocess
import sys
import threading
import time
import urllib.request

DIR, DURATION = sys.argv[1], float(sys.argv[2])
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(line.strip().split("=", 1) for line in open(os.path.join(DIR, "testbed.env")) if "=" in line)
ROUTERS = int(ENV["routers"])
counts = collections.Counter()
lock = threading.Lock()
deadline = time.monotonic() + DURATION
rng = random.SystemRandom()


def count(key, n=1):
    with lock:
        counts[key] += n


def addr(name):
    host, port = ENV[name].rsplit(":", 1)
    return host, int(port)


def echo_server():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(128)

    def serve(c):
        # The exit side goes away when a router on the path is killed: that ends this echo,
        # it is not an error of the echo server (the client side counts what it saw).
        with c:
            try:
                while True:
                    data = c.recv(65536)
                    if not data:
                        break
                    c.sendall(data)
                c.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def accept():
        while True:
            c, _ = srv.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return srv.getsockname()[1]


def raw_echo(port):
    size = rng.choice([1, 1000, 64 << 10, 1 << 20])
    data = os.urandom(size)
    count("raw attempted")
    s = socket.create_connection(addr("onion_proxy"), timeout=60)
    with s:
        s.sendall(b"\x01\x04\x00\x01127.0.0.1\x00" + str(port).encode() + b"\x00")
        status = s.recv(1)
        if status != b"\x00":
            count("raw refused, status %d" % (status[0] if status else -1))
            return
        def send():
            try:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the connection broke; the reader sees it

        threading.Thread(target=send, daemon=True).start()
        back = bytearray()
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                back += chunk
        except OSError:
            pass
    if bytes(back) == data:
        count("raw completed")
        count("bytes verified", 2 * size)
    elif data.startswith(bytes(back)):
        count("raw broken (closed early, prefix intact)")
    else:
        count("CORRUPTED raw")


def http_get():
    count("http attempted")
    token = os.urandom(8).hex()
    proxy = urllib.request.ProxyHandler({"http": "http://%s:%d" % addr("http_proxy")})
    opener = urllib.request.build_opener(proxy)
    try:
        with opener.open("http://%s/%s" % (ENV["web"], token), timeout=60) as r:
            body = r.read().decode()
        if "User-Agent: Mozilla/5.0 (compatible)" in body:
            count("http completed")
            count("bytes verified", len(body))
        else:
            count("CORRUPTED http")
    except urllib.error.HTTPError as e:
        count("http refused, %d" % e.code)
    except OSError:
        count("http broken")


mails = []


def smtp_send():
    count("smtp attempted")
    token = os.urandom(8).hex()
    host = ENV["smtp_sink"].rsplit(":", 1)[0]
    try:
        s = smtplib.SMTP(*addr("smtp_proxy"), timeout=60)
        s.helo("soak")
        s.sendmail("soak@example.org", ["bob%%%s@proxy.testbed" % host], "Subject: soak\r\n\r\ntoken %s\r\n" % token)
        with lock:
            mails.append(token)
        count("smtp completed (acknowledged)")
        s.quit()
    except smtplib.SMTPResponseException as e:
        count("smtp refused, %d" % e.smtp_code)
    except (OSError, smtplib.SMTPException):
        count("smtp broken")


def worker(port):
    while time.monotonic() < deadline:
        kind = rng.random()
        try:
            if kind < 0.5:
                raw_echo(port)
            elif kind < 0.8:
                http_get()
            else:
                smtp_send()
        except OSError:
            count("connect failed")


def chaos():
    while time.monotonic() < deadline - 10:
        time.sleep(rng.uniform(10, 30))
        victim = "r%d" % rng.randint(2, ROUTERS)  # r1 is the entry every route starts at
        subprocess.run(["bash", os.path.join(ROOT, "scripts/testbed.sh"), "restart", victim, "--dir", DIR],
                       stdout=subprocess.DEVNULL, check=False)
        count("router restarts")


port = echo_server()
threads = [threading.Thread(target=worker, args=(port,)) for _ in range(6)]
threads.append(threading.Thread(target=chaos))
start = time.monotonic()
for t in threads:
    t.start()
while any(t.is_alive() for t in threads):
    time.sleep(60)
    with lock:
        print("%5.0f s: %s" % (time.monotonic() - start, dict(sorted(counts.items()))), flush=True)
for t in threads:
    t.join()

time.sleep(3)
stored = ""
for name in os.listdir(os.path.join(DIR, "mail", "new")):
    stored += open(os.path.join(DIR, "mail", "new", name), errors="replace").read()
lost = [t for t in mails if t not in stored]
counts["mails acknowledged"] = len(mails)
counts["mails found at the server"] = len(mails) - len(lost)
if lost:
    counts["LOST mails (acknowledged, never arrived)"] = len(lost)
print("\nsoak of %.0f s:" % (time.monotonic() - start))
for k, v in sorted(counts.items()):
    print("  %-45s %d" % (k, v))
bad = [k for k in counts if k.startswith(("CORRUPTED", "LOST"))]
sys.exit(1 if bad else 0)
