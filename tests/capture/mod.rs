//! What an observer of the links sees: a reader for the pcap files `tshark -F pcap` writes on
//! the loopback interface, TCP streams reassembled per direction with the capture time of every
//! byte, and ork links decoded into cells with the keys of a router's `--link-key-log`.

#![allow(dead_code)]

mod tshark;
pub use tshark::*;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use ork::crypto::Engine;
use ork::link::codec::LinkCodec;
use ork::wire::{Cell, CELL_LEN};

/// One direction of a TCP connection: its bytes in order and when each segment was captured.
#[derive(Debug, Default)]
pub struct Flow {
    pub bytes: Vec<u8>,
    /// `(end offset, seconds)` of each segment, in offset order.
    pub times: Vec<(usize, f64)>,
    /// The SYN of this direction carried no ACK: this side dialled.
    pub dialled: bool,
    /// Bytes missing from the capture (a hole in the sequence space).
    pub gaps: usize,
    /// Payload bytes captured before this direction's SYN was seen (not read into `bytes`).
    pub unread: usize,
    isn: Option<u32>,
    segments: Vec<(usize, f64, Vec<u8>)>,
}

impl Flow {
    /// Capture time of the byte at `offset`.
    pub fn time_at(&self, offset: usize) -> f64 {
        let i = self.times.partition_point(|&(end, _)| end <= offset);
        self.times.get(i).or(self.times.last()).map(|&(_, t)| t).unwrap_or(0.0)
    }
}

pub type FlowKey = (SocketAddrV4, SocketAddrV4);

/// Every TCP flow (per direction) in a pcap file.
pub fn read_pcap(data: &[u8]) -> HashMap<FlowKey, Flow> {
    assert!(data.len() >= 24, "pcap too short");
    let magic = u32::from_le_bytes(data[0..4].try_into().expect("4 bytes"));
    let nanos = match magic {
        0xa1b2_c3d4 => false,
        0xa1b2_3c4d => true,
        other => panic!("not a little-endian pcap file (magic {other:#x}); capture with tshark -F pcap"),
    };
    let linktype = u32::from_le_bytes(data[20..24].try_into().expect("4 bytes"));
    let link_header = match linktype {
        1 => 14,   // Ethernet (Linux loopback)
        113 => 16, // Linux cooked
        276 => 20, // Linux cooked v2
        other => panic!("unsupported link type {other}"),
    };
    let u32_at = |b: &[u8], i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
    let mut flows: HashMap<FlowKey, Flow> = HashMap::new();
    let mut at = 24;
    while at + 16 <= data.len() {
        let (sec, frac, incl) = (u32_at(data, at), u32_at(data, at + 4), u32_at(data, at + 8) as usize);
        let time = sec as f64 + frac as f64 / if nanos { 1e9 } else { 1e6 };
        let Some(frame) = data.get(at + 16..at + 16 + incl) else { break };
        at += 16 + incl;
        if let Some((key, seq, flags, payload)) = tcp(frame, link_header) {
            let flow = flows.entry(key).or_default();
            if flags & 0x02 != 0 {
                flow.isn = Some(seq);
                flow.dialled = flags & 0x10 == 0;
            } else if let (Some(isn), false) = (flow.isn, payload.is_empty()) {
                let offset = seq.wrapping_sub(isn).wrapping_sub(1) as usize;
                flow.segments.push((offset, time, payload.to_vec()));
            } else {
                flow.unread += payload.len();
            }
        }
    }
    for flow in flows.values_mut() {
        let mut segments = std::mem::take(&mut flow.segments);
        segments.sort_by_key(|s| s.0);
        for (offset, time, bytes) in segments {
            let end = offset + bytes.len();
            if end <= flow.bytes.len() {
                continue; // a retransmission of what we have
            }
            if offset > flow.bytes.len() {
                flow.gaps += offset - flow.bytes.len();
                flow.bytes.resize(offset, 0);
            }
            let skip = flow.bytes.len() - offset;
            flow.bytes.extend_from_slice(&bytes[skip..]);
            flow.times.push((end, time));
        }
    }
    flows
}

/// `(flow key, seq, flags, payload)` of an IPv4 TCP frame.
fn tcp(frame: &[u8], link_header: usize) -> Option<(FlowKey, u32, u8, &[u8])> {
    let ethertype = u16::from_be_bytes([frame.get(link_header - 2)?.to_owned(), *frame.get(link_header - 1)?]);
    if ethertype != 0x0800 {
        return None;
    }
    let ip = frame.get(link_header..)?;
    let ihl = (ip.first()? & 0x0f) as usize * 4;
    if *ip.get(9)? != 6 {
        return None;
    }
    let total = (u16::from_be_bytes([ip[2], ip[3]]) as usize).min(ip.len());
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    let t = ip.get(ihl..total)?;
    let sport = u16::from_be_bytes([t[0], t[1]]);
    let dport = u16::from_be_bytes([t[2], t[3]]);
    let seq = u32::from_be_bytes(t.get(4..8)?.try_into().ok()?);
    let offset = (t.get(12)? >> 4) as usize * 4;
    let flags = *t.get(13)?;
    Some(((SocketAddrV4::new(src, sport), SocketAddrV4::new(dst, dport)), seq, flags, t.get(offset..)?))
}

/// A link end and ACI: `(link tag, ACI)`.
pub type Hop = (String, u16);
/// One router's connection map: in-hop to out-hop, `None` for an exit.
pub type ConnMap = HashMap<Hop, Option<Hop>>;

/// Keys from key-log files: `link TAG K_DL K_LD` lines; `connection IN-TAG IN-ACI OUT-TAG|exit [OUT-ACI]`.
#[derive(Debug, Default)]
pub struct KeyLog {
    pub links: HashMap<String, ([u8; 8], [u8; 8])>,
    /// Per router (file index): `(in tag, in ACI) -> Some((out tag, out ACI))`, `None` = exit.
    pub connections: Vec<ConnMap>,
}

impl KeyLog {
    pub fn add_file(&mut self, text: &str) {
        let mut connections = HashMap::new();
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.as_slice() {
                ["link", tag, dl, ld] => {
                    let key = |h: &str| <[u8; 8]>::try_from(hex::decode(h).expect("hex key")).expect("8-byte key");
                    self.links.insert(tag.to_string(), (key(dl), key(ld)));
                }
                ["connection", tag, aci, "exit"] => {
                    connections.insert((tag.to_string(), aci.parse().expect("aci")), None);
                }
                ["connection", tag, aci, out, out_aci] => {
                    let out = Some((out.to_string(), out_aci.parse().expect("aci")));
                    connections.insert((tag.to_string(), aci.parse().expect("aci")), out);
                }
                _ => panic!("bad key-log line {line:?}"),
            }
        }
        self.connections.push(connections);
    }
}

/// One direction of a decoded link.
#[derive(Debug)]
pub struct LinkFlow {
    pub key: FlowKey,
    pub tag: String,
    pub from_dialler: bool,
    pub anonymous: bool,
    /// Stream offset where the cells start (after identity and handshake).
    pub cells_start: usize,
    /// Cells and the capture time of each.
    pub cells: Vec<(Cell, f64)>,
    /// Bytes after the handshake that are not a whole number of cells.
    pub trailing: usize,
    pub decode_error: Option<String>,
}

const IDENTITY: usize = 6;
const DH: usize = 128;
const SIG: usize = 128;

/// Decode both directions of every link whose tag is in `keys`; a flow is a link when its
/// dialler's first bytes are an identity and a DH value whose tag the key log knows.
pub fn decode_links(flows: &HashMap<FlowKey, Flow>, keys: &KeyLog) -> Vec<LinkFlow> {
    let mut out = Vec::new();
    for (key, flow) in flows.iter().filter(|(_, f)| f.dialled) {
        let Some(tag_bytes) = flow.bytes.get(IDENTITY..IDENTITY + 8) else { continue };
        let tag = hex::encode(tag_bytes);
        let Some(&(k_dl, k_ld)) = keys.links.get(&tag) else { continue };
        let anonymous = flow.bytes[..IDENTITY].iter().all(|&b| b == 0);
        let back_key = (key.1, key.0);
        let (dl_start, dl_used) = if anonymous { (IDENTITY + DH, 0) } else { (IDENTITY + DH + SIG, SIG) };
        out.push(decode(*key, flow, &tag, true, anonymous, k_dl, dl_start, dl_used));
        if let Some(back) = flows.get(&back_key) {
            out.push(decode(back_key, back, &tag, false, anonymous, k_ld, DH + SIG, SIG));
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn decode(
    key: FlowKey,
    flow: &Flow,
    tag: &str,
    from_dialler: bool,
    anonymous: bool,
    link_key: [u8; 8],
    start: usize,
    used: usize,
) -> LinkFlow {
    let mut rx = Engine::des_ofb(&link_key);
    rx.apply(&mut vec![0u8; used]);
    let mut codec = LinkCodec::new(Engine::des_ofb(&[0; 8]), rx);
    let body = flow.bytes.get(start..).unwrap_or(&[]);
    let whole = body.len() / CELL_LEN * CELL_LEN;
    let mut cells = Vec::new();
    let decode_error = codec.decode(&body[..whole], &mut cells).err().map(|e| e.to_string());
    let cells = cells.into_iter().enumerate().map(|(i, c)| (c, flow.time_at(start + (i + 1) * CELL_LEN - 1))).collect();
    LinkFlow {
        key,
        tag: tag.to_string(),
        from_dialler,
        anonymous,
        cells_start: start.min(flow.bytes.len()),
        cells,
        trailing: body.len() - whole,
        decode_error,
    }
}

/// Every window of `n` bytes of `data`.
pub fn windows(data: &[u8], n: usize) -> impl Iterator<Item = &[u8]> {
    data.windows(n)
}

/// Spearman rank correlation of paired samples (no ties expected).
pub fn spearman(pairs: &[(f64, f64)]) -> f64 {
    let rank = |v: Vec<f64>| {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
        let mut r = vec![0.0; v.len()];
        for (rank, i) in idx.into_iter().enumerate() {
            r[i] = rank as f64;
        }
        r
    };
    let n = pairs.len() as f64;
    let a = rank(pairs.iter().map(|p| p.0).collect());
    let b = rank(pairs.iter().map(|p| p.1).collect());
    let d2: f64 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
    1.0 - 6.0 * d2 / (n * (n * n - 1.0))
}
