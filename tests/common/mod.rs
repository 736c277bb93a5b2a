//! Shared set-up for in-memory network tests: keys, a full-mesh or ring topology of routers,
//! an onion proxy and simulated servers on a [`SimNet`].

#![allow(dead_code)]

use std::net::{SocketAddr, SocketAddrV4};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ork::client::{OnionProxy, OnionProxyConfig};
use ork::config::neighbors::Neighbor;
use ork::config::network::{Network, RouterEntry};
use ork::config::policy::Policy;
use ork::crypto::{rsa_block, CipherCode, RsaPrivateKey};
use ork::router::mixer::BatchTiming;
use ork::router::replay::ReplayCache;
use ork::router::{Router, RouterConfig, Timeouts};
use ork::sim::SimNet;
use rand::rngs::StdRng;
use rand::SeedableRng;

pub const ECHO: &str = "127.0.0.1:7000";

/// Five fixed keys (generated once per test binary).
pub fn keys() -> &'static Vec<RsaPrivateKey> {
    static KEYS: OnceLock<Vec<RsaPrivateKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = StdRng::seed_from_u64(42);
        (0..6).map(|_| rsa_block::generate(&mut rng).expect("keygen")).collect()
    })
}

pub fn router_addr(i: usize) -> SocketAddrV4 {
    SocketAddrV4::new([127, 0, 0, 1].into(), 9001 + i as u16)
}

pub struct Testbed {
    pub net: SimNet,
    pub routers: Vec<usize>,
    pub proxy: usize,
    pub proxy_addr: SocketAddr,
    pub links: Vec<(usize, usize)>,
}

pub fn full_mesh(n: usize) -> Vec<(usize, usize)> {
    let mut l = Vec::new();
    for a in 0..n {
        for b in a + 1..n {
            l.push((a, b));
        }
    }
    l
}

pub fn router(i: usize, links: &[(usize, usize)], mix: Duration, seed: u64) -> Router {
    router_with_jitter(i, links, mix, seed, Duration::ZERO)
}

pub fn router_with_jitter(i: usize, links: &[(usize, usize)], mix: Duration, seed: u64, jitter: Duration) -> Router {
    router_custom(i, links, seed, |c| {
        c.mixing.interval = mix;
        c.destroy_jitter = jitter;
    })
}

/// A router whose configuration the test adjusts.
pub fn router_custom(i: usize, links: &[(usize, usize)], seed: u64, adjust: impl FnOnce(&mut RouterConfig)) -> Router {
    router_with_cache(i, links, seed, ReplayCache::new(100_000), adjust)
}

/// A router with the given replay cache (one with a store survives a restart in the simulation).
pub fn router_with_cache(
    i: usize,
    links: &[(usize, usize)],
    seed: u64,
    cache: ReplayCache,
    adjust: impl FnOnce(&mut RouterConfig),
) -> Router {
    let (mix, jitter) = (Duration::from_millis(10), Duration::ZERO);
    let neighbors = links
        .iter()
        .filter_map(|&(a, b)| {
            if a == i {
                Some(b)
            } else if b == i {
                Some(a)
            } else {
                None
            }
        })
        .map(|j| Neighbor { addr: router_addr(j), key: keys()[j].to_public_key(), key_path: "k.pub".into() })
        .collect();
    let cfg = RouterConfig {
        identity: router_addr(i),
        key: Arc::new(keys()[i].clone()),
        neighbors,
        mixing: BatchTiming { interval: mix, lone_wait: BatchTiming::DEFAULT.lone_wait },
        padding_rate: 0.0,
        max_onion_lifetime: Duration::from_secs(3600),
        exit_policy: Policy::accept_all(),
        timeouts: Timeouts::default(),
        destroy_jitter: jitter,
        key_log: false,
    };
    let mut cfg = cfg;
    adjust(&mut cfg);
    Router::with_rng(cfg, cache, StdRng::seed_from_u64(seed))
}

pub fn network(n: usize, links: &[(usize, usize)]) -> Network {
    Network {
        routers: (0..n)
            .map(|i| RouterEntry {
                name: format!("r{}", i + 1),
                addr: router_addr(i),
                key: keys()[i].to_public_key(),
                key_path: "k.pub".into(),
            })
            .collect(),
        links: links.to_vec(),
    }
}

pub fn proxy_config(n: usize, links: &[(usize, usize)], hops: usize, code: CipherCode) -> OnionProxyConfig {
    OnionProxyConfig {
        network: network(n, links),
        entry: 0,
        via: None,
        hops,
        policy: Policy::accept_all(),
        allow_from: vec![("127.0.0.0".parse().unwrap(), 8)],
        forw: code,
        back: code,
        expires: Duration::from_secs(60),
        link_wait: Duration::from_secs(10),
    }
}

/// Five routers (or `n`), an onion proxy on 127.0.0.1:9050 and an echo server, links up.
pub fn testbed(n: usize, links: Vec<(usize, usize)>, hops: usize, code: CipherCode, mix: Duration) -> Testbed {
    let mut net = SimNet::new();
    let routers: Vec<usize> =
        (0..n).map(|i| net.add(router(i, &links, mix, 100 + i as u64), vec![SocketAddr::V4(router_addr(i))])).collect();
    net.add_server(ECHO.parse().unwrap(), ork::sim::ServerKind::Echo);
    let proxy_addr: SocketAddr = "127.0.0.1:9050".parse().unwrap();
    let op = OnionProxy::with_rng(proxy_config(n, &links, hops, code), net.now, StdRng::seed_from_u64(7));
    let proxy = net.add(op, vec![proxy_addr]);
    net.advance(Duration::from_secs(2), Duration::from_millis(100));
    let tb = Testbed { net, routers, proxy, proxy_addr, links };
    for (i, &r) in tb.routers.iter().enumerate() {
        let want = tb.links.iter().filter(|&&(a, b)| a == i || b == i).count();
        assert_eq!(tb.net.node::<Router>(r).linked_neighbors().len(), want, "router {i} links");
    }
    assert!(tb.net.node::<OnionProxy>(proxy).uplink_open(), "onion proxy uplink");
    tb
}

/// The standard structure for a generic TCP connection.
pub fn structure(host: &str, port: u16) -> Vec<u8> {
    use ork::wire::standard::Host;
    use ork::wire::{Protocol, StandardStructure};
    let h = Host::parse(host.as_bytes()).expect("host");
    StandardStructure::new(Protocol::Tcp, h, port).to_bytes()
}

/// Deterministic pseudo-random bytes.
pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    use rand::RngCore;
    let mut v = vec![0u8; len];
    StdRng::seed_from_u64(seed).fill_bytes(&mut v);
    v
}

/// A test client that speaks the link protocol itself as an anonymous client of one router:
/// it keys the link, then sends and reads raw cells.
pub struct RawClient {
    pub conn: usize,
    pub codec: ork::link::LinkCodec,
    read: usize,
}

impl RawClient {
    pub fn connect(net: &mut SimNet, router: usize) -> RawClient {
        let addr = router_addr(router);
        let mut rng = StdRng::seed_from_u64(5);
        let conn = net.client_connect(SocketAddr::V4(addr)).expect("router listening");
        let (mut hs, msg1) =
            ork::link::Dialler::new(None, addr, keys()[router].to_public_key(), &mut rng).expect("dialler");
        net.server_send(conn, &msg1);
        net.run();
        let p = hs.read(&net.server_conns[conn].received).expect("STS message 2");
        if !p.send.is_empty() {
            net.server_send(conn, &p.send);
        }
        let codec = p.established.expect("keyed").codec;
        RawClient { conn, codec, read: p.consumed }
    }

    pub fn send(&mut self, net: &mut SimNet, cells: &[ork::wire::Cell]) {
        let mut out = Vec::new();
        self.codec.encode_all(cells, &mut out);
        net.server_send(self.conn, &out);
    }

    /// Cells received since the last call.
    pub fn cells(&mut self, net: &SimNet) -> Vec<ork::wire::Cell> {
        let buf = &net.server_conns[self.conn].received[self.read..];
        self.read += buf.len();
        let mut out = Vec::new();
        self.codec.decode(buf, &mut out).expect("cells decode");
        out
    }
}

/// The CREATE cells carrying `onion` on `aci`.
pub fn create_cells(aci: u16, onion: &ork::onion::Onion) -> Vec<ork::wire::Cell> {
    use ork::wire::{Aci, Cell, Command};
    let mut rng = StdRng::seed_from_u64(6);
    ork::router::create_chunks()
        .map(|r| Cell::with_data(Aci(aci), Command::Create, &onion[r], &mut rng).expect("cell"))
        .collect()
}

/// An onion through routers `route` (indices), expiring at `expiration`, with its key sets.
pub fn onion_for(route: &[usize], expiration: u32, seed: u64) -> (ork::onion::Onion, Vec<ork::crypto::KeySet>) {
    use ork::onion::{build, OnionPlan, RouteHop};
    let hops: Vec<RouteHop> =
        route.iter().map(|&i| RouteHop { addr: router_addr(i), key: keys()[i].to_public_key() }).collect();
    let mut rng = StdRng::seed_from_u64(seed);
    let plan = OnionPlan::random(hops.len(), CipherCode::Rc4, CipherCode::Rc4, expiration, &mut rng);
    (build(&hops, &plan).expect("onion"), plan.key_sets())
}

/// Routers only (no onion proxy), links up.
pub fn routers_only(n: usize, links: Vec<(usize, usize)>, mix: Duration) -> (SimNet, Vec<usize>) {
    routers_with_jitter(n, links, mix, Duration::ZERO)
}

/// Routers with a DESTROY jitter bound, links up.
pub fn routers_with_jitter(
    n: usize,
    links: Vec<(usize, usize)>,
    mix: Duration,
    jitter: Duration,
) -> (SimNet, Vec<usize>) {
    let mut net = SimNet::new();
    let routers: Vec<usize> = (0..n)
        .map(|i| {
            let r = router_with_jitter(i, &links, mix, 200 + i as u64, jitter);
            net.add(r, vec![SocketAddr::V4(router_addr(i))])
        })
        .collect();
    net.advance(Duration::from_secs(2), Duration::from_millis(100));
    (net, routers)
}
