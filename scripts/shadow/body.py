"""The bytes a server sends for a request id, so that clients can check them by SHA-256.

A 65,521-byte block (a prime, so a shifted or repeated stretch does not line up with the block)
made of SHA-256(id:k) for k = 0, 1, ..., repeated to the asked size.
"""

import hashlib

BLOCK = 65521


def block(rid):
    out = bytearray()
    k = 0
    while len(out) < BLOCK:
        out += hashlib.sha256(f"{rid}:{k}".encode()).digest()
        k += 1
    return bytes(out[:BLOCK])


def chunks(rid, size, chunk=16384):
    """The body of `size` bytes for `rid`, in pieces of at most `chunk` bytes."""
    b = block(rid)
    pos = 0
    while pos < size:
        off = pos % BLOCK
        n = min(chunk, size - pos, BLOCK - off)
        yield b[off:off + n]
        pos += n


def digest(rid, size):
    h = hashlib.sha256()
    for c in chunks(rid, size):
        h.update(c)
    return h.hexdigest()
