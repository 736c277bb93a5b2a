"""Delay every packet of one netfilter queue (NFQUEUE) by a fixed time, then let it go.

The testbed's stand-in for `tc qdisc ... netem delay` on kernels without sch_netem: a rule in a
router's network namespace (nft `queue num N bypass`, or iptables `-j NFQUEUE --queue-bypass`)
hands each packet the namespace sends to queue N; this program, run inside that namespace,
holds it for --delay and then gives the kernel the verdict NF_ACCEPT. Packets leave in the
order they came (one FIFO, one fixed delay). Runs until killed.

    nfq_delay.py --queue N --delay 20ms        (suffix us, ms or s)

Python standard library only: a raw netlink socket (NETLINK_NETFILTER) and the few
nfnetlink_queue messages it takes, built by hand after the Linux uapi headers
<linux/netlink.h>, <linux/netfilter/nfnetlink.h> and <linux/netfilter/nfnetlink_queue.h>:

  * one NFQNL_MSG_CONFIG (with NLM_F_ACK) holding NFQA_CFG_CMD BIND (this socket gets queue
    N's packets), NFQA_CFG_PARAMS (NFQNL_COPY_META: metadata only, no packet bytes),
    NFQA_CFG_QUEUE_MAXLEN 65536 and NFQA_CFG_FLAGS/MASK = FAIL_OPEN | GSO (see below);
  * NFQNL_MSG_PACKET from the kernel, one per packet: its NFQA_PACKET_HDR carries the id;
  * NFQNL_MSG_VERDICT with NFQA_VERDICT_HDR (NF_ACCEPT, id) once the packet's time is up.

Netlink headers and attribute headers are in host byte order; nfgenmsg's res_id (the queue
number) and every nfnetlink_queue field are big-endian (the kernel reads them with ntohl/ntohs).

Overflow (a choice, documented in docs/testbed.md): the queue is configured FAIL_OPEN, so when
its 65,536 places are full, or this socket's receive buffer is (the kernel then cannot hand us
the packet), the kernel accepts the packet at once, undelayed, instead of dropping it. A full
socket buffer also shows here as ENOBUFS on recv, which is logged and counted; nothing is
dropped silently. GSO: large TCP segments are queued whole, not cut into MTU-sized packets
first (fewer messages; we never look at the bytes). If this program dies, the kernel drops the
packets it still holds, and the rule's `bypass` lets later packets through undelayed.
"""
import argparse
import collections
import errno
import select
import signal
import socket
import struct
import sys
import time

# <linux/netlink.h>
NETLINK_NETFILTER = 12
NLMSG_ERROR = 2
NLM_F_REQUEST = 0x01
NLM_F_ACK = 0x04
NLA_TYPE_MASK = 0x3FFF  # without NLA_F_NESTED (1 << 15) and NLA_F_NET_BYTEORDER (1 << 14)
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)  # root may exceed net.core.rmem_max

# <linux/netfilter/nfnetlink.h>: message type = subsystem << 8 | message.
NFNL_SUBSYS_QUEUE = 3
NFNETLINK_V0 = 0

# <linux/netfilter/nfnetlink_queue.h>
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_PACKET_HDR, NFQA_VERDICT_HDR = 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_QUEUE_MAXLEN, NFQA_CFG_MASK, NFQA_CFG_FLAGS = 1, 2, 3, 4, 5
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_GSO = 1 << 0, 1 << 2

# <linux/netfilter.h>
NF_ACCEPT = 1

QUEUE_MAXLEN = 65536
RCVBUF = 16 << 20


def log(*words):
    print("nfq_delay:", *words, flush=True)


def parse_delay(text):
    """'20ms', '0.5s', '500us' -> seconds."""
    for suffix, scale in (("us", 1e-6), ("ms", 1e-3), ("s", 1.0)):
        if text.endswith(suffix):
            try:
                value = float(text[: -len(suffix)])
            except ValueError:
                break
            if value >= 0:
                return value * scale
    raise argparse.ArgumentTypeError(f"a delay such as 20ms, 0.5s or 500us, not {text!r}")


def attr(kind, payload):
    """One netlink attribute: struct nlattr {u16 nla_len; u16 nla_type;}, payload, pad to 4."""
    return struct.pack("=HH", 4 + len(payload), kind) + payload + b"\0" * (-len(payload) % 4)


def message(msg, flags, seq, queue, attributes):
    """struct nlmsghdr {u32 len; u16 type; u16 flags; u32 seq; u32 pid;}, then
    struct nfgenmsg {u8 family; u8 version; be16 res_id;} and the attributes."""
    body = struct.pack("!BBH", socket.AF_UNSPEC, NFNETLINK_V0, queue) + b"".join(attributes)
    return struct.pack("=IHHII", 16 + len(body), NFNL_SUBSYS_QUEUE << 8 | msg, flags, seq, 0) + body


def messages(data):
    """(type, payload after nlmsghdr) of each netlink message in one datagram."""
    off = 0
    while off + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, off)
        if length < 16:
            return
        yield kind, data[off + 16 : off + length]
        off += (length + 3) & ~3


def attrs(payload):
    """{type: bytes} of the attributes after a message's nfgenmsg."""
    found, off = {}, 4
    while off + 4 <= len(payload):
        length, kind = struct.unpack_from("=HH", payload, off)
        if length < 4:
            break
        found[kind & NLA_TYPE_MASK] = payload[off + 4 : off + length]
        off += (length + 3) & ~3
    return found


class Queue:
    """Our end of one nfnetlink queue."""

    def __init__(self, number):
        self.number, self.seq = number, 0
        self.arrived = []  # ids of packets read from the socket, not yet held
        self.acks = {}  # seq of a request -> its NLMSG_ERROR code (0 = done)
        self.enobufs = 0
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        self.sock.bind((0, 0))  # the kernel picks our port id

    def setup(self):
        """Bind the queue and configure it in one NFQNL_MSG_CONFIG (the kernel applies the BIND
        first, then the rest, or nothing), with NLM_F_ACK; wait for the answer."""
        flags = NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO
        self.seq += 1
        self.sock.send(
            message(
                NFQNL_MSG_CONFIG,
                NLM_F_REQUEST | NLM_F_ACK,
                self.seq,
                self.number,
                [
                    # struct nfqnl_msg_config_cmd {u8 command; u8 _pad; be16 pf;} (pf unused by BIND)
                    attr(NFQA_CFG_CMD, struct.pack("!BBH", NFQNL_CFG_CMD_BIND, 0, 0)),
                    # struct nfqnl_msg_config_params {be32 copy_range; u8 copy_mode;} packed: 5 bytes
                    attr(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META)),
                    attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", QUEUE_MAXLEN)),
                    attr(NFQA_CFG_FLAGS, struct.pack("!I", flags)),
                    attr(NFQA_CFG_MASK, struct.pack("!I", flags)),
                ],
            )
        )
        while self.seq not in self.acks:  # packets may come before the answer: read() keeps them
            self.read(self.sock.recv(65536))
        if self.acks[self.seq]:
            sys.exit(f"nfq_delay: binding queue {self.number}: {errno.errorcode.get(-self.acks[self.seq], '?')}")
        self.sock.setblocking(False)

    def read(self, data):
        """Take the packet ids and answers out of one datagram from the kernel."""
        for kind, payload in messages(data):
            if kind == NFNL_SUBSYS_QUEUE << 8 | NFQNL_MSG_PACKET:
                # struct nfqnl_msg_packet_hdr {be32 packet_id; be16 hw_protocol; u8 hook;}
                hdr = attrs(payload).get(NFQA_PACKET_HDR)
                if hdr and len(hdr) >= 4:
                    self.arrived.append(struct.unpack_from("!I", hdr)[0])
            elif kind == NLMSG_ERROR and len(payload) >= 20:
                # struct nlmsgerr {int error; struct nlmsghdr msg;}: msg.nlmsg_seq at offset 12.
                err, seq = struct.unpack_from("=i8xI", payload)
                self.acks[seq] = err
                if err and seq == 0:  # verdicts go with seq 0 and no NLM_F_ACK: only errors come back
                    log(f"the kernel refused a verdict: {errno.errorcode.get(-err, err)}")

    def drain(self):
        """Read every datagram waiting on the socket (never blocks); return the new packet ids."""
        while True:
            try:
                self.read(self.sock.recv(65536))
            except BlockingIOError:
                break
            except OSError as e:
                if e.errno != errno.ENOBUFS:
                    raise
                # Our receive buffer overflowed: the kernel let those packets pass undelayed
                # (FAIL_OPEN). Say so (the 1st, 2nd, 4th, 8th... time), and go on reading.
                self.enobufs += 1
                if self.enobufs & (self.enobufs - 1) == 0:
                    log(f"ENOBUFS: receive buffer full, some packets passed undelayed ({self.enobufs} so far)")
        ids, self.arrived = self.arrived, []
        return ids

    def accept(self, packet_id):
        # struct nfqnl_msg_verdict_hdr {be32 verdict; be32 id;}
        verdict = attr(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, packet_id))
        self.sock.send(message(NFQNL_MSG_VERDICT, NLM_F_REQUEST, 0, self.number, [verdict]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--queue", type=int, required=True, help="NFQUEUE number (0-65535)")
    ap.add_argument("--delay", type=parse_delay, required=True, help="how long to hold each packet: 20ms, 0.5s")
    args = ap.parse_args()
    q = Queue(args.queue)
    q.setup()
    delayed = 0

    def stop(*_):
        log(f"stopping: {delayed} packets delayed, {q.enobufs} ENOBUFS")
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log(
        f"bound to queue {args.queue}: holding every packet {args.delay * 1e3:g} ms "
        f"(copy meta, max length {QUEUE_MAXLEN}, fail-open)"
    )

    held = collections.deque()  # (release time, packet id), oldest first: a fixed delay keeps order
    held.extend((time.monotonic() + args.delay, i) for i in q.drain())  # any that came with the answer
    while True:
        timeout = max(0.0, held[0][0] - time.monotonic()) if held else None
        readable, _, _ = select.select([q.sock], [], [], timeout)
        if readable:
            release = time.monotonic() + args.delay
            held.extend((release, i) for i in q.drain())
        now = time.monotonic()
        while held and held[0][0] <= now:
            q.accept(held.popleft()[1])
            delayed += 1


if __name__ == "__main__":
    main()
