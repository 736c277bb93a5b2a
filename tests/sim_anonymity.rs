//! What an observer of the links sees (issue 9, in memory): with real ciphers no byte sequence
//! of 8 bytes appears on two different link directions (so neither application bytes nor an
//! onion can be followed from hop to hop), and every link carries whole 48-byte cells after its
//! handshake. Identity ciphers are the negative control: there the observer does follow the data.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::*;
use ork::crypto::CipherCode;
use ork::sim::End;

/// STS bytes before the first cell: dialler→listener 134 (+128 for a router), listener→dialler 256.
const MSG1: usize = 6 + 128;
const MSG2: usize = 256;
const MSG3: usize = 128;

struct Capture {
    /// Link direction (sender node, socket) → bytes, for node-to-node connections only.
    links: HashMap<(usize, u64), Vec<u8>>,
    /// Which node each direction goes to.
    to: HashMap<(usize, u64), usize>,
}

fn run_traffic(code: CipherCode) -> (Capture, Vec<u8>, usize) {
    // Capture from the very start of the links, handshakes included.
    let mut net = ork::sim::SimNet::new();
    net.log_wire = true;
    let links = full_mesh(5);
    let routers: Vec<usize> = (0..5)
        .map(|i| {
            net.add(
                router(i, &links, Duration::from_millis(10), 100 + i as u64),
                vec![std::net::SocketAddr::V4(router_addr(i))],
            )
        })
        .collect();
    net.add_server(ECHO.parse().unwrap(), ork::sim::ServerKind::Echo);
    let op_cfg = proxy_config(5, &links, 5, code);
    let op =
        ork::client::OnionProxy::with_rng(op_cfg, net.now, <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(7));
    let proxy_addr: std::net::SocketAddr = "127.0.0.1:9050".parse().unwrap();
    let proxy = net.add(op, vec![proxy_addr]);
    net.advance(Duration::from_secs(2), Duration::from_millis(100));
    let mut tb = Testbed { net, routers, proxy, proxy_addr, links };
    let secret = b"GET /very-secret-page HTTP/1.0\r\nCookie: session=do-not-leak-this-value\r\n\r\n".repeat(20);
    let c = tb.net.client_connect(tb.proxy_addr).unwrap();
    let mut first = structure("127.0.0.1", 7000);
    first.extend_from_slice(&secret);
    tb.net.server_send(c, &first);
    tb.net.advance(Duration::from_millis(300), Duration::from_millis(10));
    assert_eq!(tb.net.server_conns[c].received.len(), 1 + secret.len(), "echoed");
    tb.net.server_shutdown(c);
    tb.net.advance(Duration::from_millis(300), Duration::from_millis(10));
    let mut cap = Capture { links: HashMap::new(), to: HashMap::new() };
    for ((from, data), to) in tb.net.wire_log.iter().zip(&tb.net.wire_peers) {
        if let (End::Node(n, s), End::Node(m, _)) = (from, to) {
            cap.links.entry((*n, s.0)).or_default().extend_from_slice(data);
            cap.to.insert((*n, s.0), *m);
        }
    }
    (cap, secret, tb.proxy)
}

/// 8-byte windows of each direction, and which directions share one.
fn shared_windows(cap: &Capture) -> usize {
    let mut seen: HashMap<[u8; 8], (usize, u64)> = HashMap::new();
    let mut shared = HashSet::new();
    for (dir, bytes) in &cap.links {
        for w in bytes.windows(8) {
            let key: [u8; 8] = w.try_into().unwrap();
            match seen.get(&key) {
                Some(other) if other != dir => {
                    shared.insert(key);
                }
                _ => {
                    seen.insert(key, *dir);
                }
            }
        }
    }
    shared.len()
}

#[test]
fn links_share_no_byte_sequence_and_carry_whole_cells() {
    let (cap, secret, _) = run_traffic(CipherCode::Aes128Ctr);
    assert!(cap.links.len() >= 20, "captured {} link directions", cap.links.len());
    assert_eq!(shared_windows(&cap), 0, "an 8-byte sequence appeared on two link directions");
    for bytes in cap.links.values() {
        assert!(!bytes.windows(8).any(|w| secret.windows(8).any(|s| s == w)), "application bytes in clear");
    }
    // Dialler (anonymous: 134, router: 134 + 128) or listener (256) bytes come first; the
    // three have distinct remainders mod 48, so exactly one can leave whole cells.
    for (&(from, sock), bytes) in &cap.links {
        let to = cap.to[&(from, sock)];
        let fits = [MSG1, MSG1 + MSG3, MSG2]
            .iter()
            .filter(|&&h| bytes.len() >= h && (bytes.len() - h) % ork::wire::CELL_LEN == 0)
            .count();
        assert_eq!(fits, 1, "{from}→{to}: {} bytes are not STS plus whole cells", bytes.len());
    }
}

#[test]
fn negative_control_identity_ciphers_let_the_observer_follow_the_data() {
    let (cap, secret, _) = run_traffic(CipherCode::Identity);
    assert!(shared_windows(&cap) > 100, "with identity ciphers data is the same on every hop");
    assert!(cap.links.values().any(|b| b.windows(8).any(|w| secret.windows(8).any(|s| s == w))));
}
