//! The directory in memory with virtual time: fifty real router cores upload their descriptors
//! to three authorities, which check each by an STS handshake, vote, and sign one consensus;
//! with churn (routers leaving and joining) and an authority down, every authority still
//! publishes the same majority-signed document listing exactly the running routers.

use std::net::{SocketAddr, SocketAddrV4};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ork::config::policy::Policy;
use ork::config::Neighbor;
use ork::crypto::rsa_block;
use ork::crypto::RsaPrivateKey;
use ork::directory::authority::AuthorityState;
use ork::directory::beside::Beside;
use ork::directory::publisher::Publisher;
use ork::directory::server::AuthorityServer;
use ork::directory::{Authorities, AuthorityEntry, Descriptor, Fingerprint, NetworkDocument, NoStore, WallClock};
use ork::router::mixer::BatchTiming;
use ork::router::replay::ReplayCache;
use ork::router::{Router, RouterConfig, Timeouts};
use ork::sim::SimNet;
use rand::rngs::StdRng;
use rand::SeedableRng;

const ROUTERS: usize = 50;
const AUTHS: usize = 3;
const INTERVAL: Duration = Duration::from_secs(4);

fn keys() -> &'static Vec<RsaPrivateKey> {
    static KEYS: OnceLock<Vec<RsaPrivateKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = StdRng::seed_from_u64(17);
        (0..ROUTERS + 10 + AUTHS).map(|_| rsa_block::generate(&mut rng).expect("keygen")).collect()
    })
}

fn router_addr(i: usize) -> SocketAddrV4 {
    SocketAddrV4::new([10, 1, (i / 200) as u8, (i % 200 + 1) as u8].into(), 9001)
}

fn auth_addr(a: usize) -> SocketAddrV4 {
    SocketAddrV4::new([10, 9, 0, 1 + a as u8].into(), 9030)
}

fn authorities() -> Authorities {
    let list = (0..AUTHS)
        .map(|a| {
            let key = keys()[ROUTERS + 10 + a].to_public_key();
            AuthorityEntry { addr: auth_addr(a), fingerprint: Fingerprint::of(&key), key, key_path: "a.pub".into() }
        })
        .collect();
    Authorities { list }
}

/// Router `i`, linked in a ring to i-1 and i+1 (of `n`), publishing to the authorities.
fn router(net: &SimNet, i: usize, n: usize) -> Beside<Router, Publisher> {
    let ring = [(i + n - 1) % n, (i + 1) % n];
    let neighbors: Vec<Neighbor> = ring
        .iter()
        .map(|&j| Neighbor { addr: router_addr(j), key: keys()[j].to_public_key(), key_path: "k".into() })
        .collect();
    let desc = Descriptor {
        name: format!("r{i:02}"),
        addr: router_addr(i),
        key: keys()[i].to_public_key(),
        published: net.now.unix,
        ciphers: vec![0, 1, 2, 3, 4],
        exit_policy: vec!["accept *:*".into()],
        neighbors: neighbors.iter().map(|n| n.addr).collect(),
    }
    .sign(&keys()[i])
    .expect("descriptor");
    let cfg = RouterConfig {
        identity: router_addr(i),
        key: Arc::new(keys()[i].clone()),
        neighbors,
        mixing: BatchTiming { interval: Duration::from_millis(10), lone_wait: BatchTiming::DEFAULT.lone_wait },
        padding_rate: 0.0,
        max_onion_lifetime: Duration::from_secs(3600),
        exit_policy: Policy::accept_all(),
        timeouts: Timeouts::default(),
        destroy_jitter: Duration::ZERO,
        key_log: false,
    };
    let core = Router::with_rng(cfg, ReplayCache::new(1000), StdRng::seed_from_u64(i as u64));
    Beside::new(core, Publisher::new(authorities(), desc.text, INTERVAL * 2), 64 * 1024)
}

fn authority(net: &SimNet, a: usize) -> AuthorityServer {
    let now_ms = WallClock::new(net.now).ms(net.now);
    let key = Arc::new(keys()[ROUTERS + 10 + a].clone());
    let state = AuthorityState::new(key, authorities(), INTERVAL.as_millis() as u64, now_ms).expect("authority");
    AuthorityServer::new(state, net.now, rand_chacha::ChaCha20Rng::seed_from_u64(a as u64), Box::new(NoStore))
}

fn published(net: &SimNet, node: usize) -> Option<NetworkDocument> {
    net.node::<AuthorityServer>(node).state().published().cloned()
}

fn names(doc: &NetworkDocument) -> Vec<String> {
    doc.routers.iter().map(|r| r.desc.name.clone()).collect()
}

#[test]
fn fifty_routers_three_authorities_churn_converges() {
    let mut net = SimNet::new();
    let auth_nodes: Vec<usize> =
        (0..AUTHS).map(|a| net.add(authority(&net, a), vec![SocketAddr::V4(auth_addr(a))])).collect();
    let mut router_nodes: Vec<usize> =
        (0..ROUTERS).map(|i| net.add(router(&net, i, ROUTERS), vec![SocketAddr::V4(router_addr(i))])).collect();
    net.advance(INTERVAL * 3, Duration::from_millis(250));

    let auths = authorities();
    let first = published(&net, auth_nodes[0]).expect("a consensus after three intervals");
    assert_eq!(first.routers.len(), ROUTERS, "{:?}", names(&first));
    assert_eq!(first.links.len(), ROUTERS, "the ring's links, both ends declaring them");
    assert_eq!(first.signers(&auths).len(), AUTHS, "every authority signed the same bytes");
    for &a in &auth_nodes[1..] {
        assert_eq!(published(&net, a).map(|d| d.to_text()), Some(first.to_text()), "authority {a} converged");
    }

    // Churn: five routers leave, five new ones join (same ring slots are not reused).
    for &i in &[3, 11, 20, 33, 47] {
        net.kill(router_nodes[i]);
    }
    for i in ROUTERS..ROUTERS + 5 {
        router_nodes.push(net.add(router(&net, i, ROUTERS + 5), vec![SocketAddr::V4(router_addr(i))]));
    }
    net.advance(INTERVAL * 2, Duration::from_millis(250));
    let after = published(&net, auth_nodes[0]).expect("consensus");
    let got = names(&after);
    assert_eq!(after.routers.len(), ROUTERS, "{got:?}");
    for gone in ["r03", "r11", "r20", "r33", "r47"] {
        assert!(!got.iter().any(|n| n == gone), "{gone} left within two intervals: {got:?}");
    }
    for new in ["r50", "r51", "r52", "r53", "r54"] {
        assert!(got.iter().any(|n| n == new), "{new} joined: {got:?}");
    }
    assert!(after.validity.valid_after > first.validity.valid_after);
    for &a in &auth_nodes[1..] {
        assert_eq!(published(&net, a).map(|d| d.to_text()), Some(after.to_text()), "authority {a} converged");
    }

    // One authority down: the other two still agree and sign a majority document.
    net.kill(auth_nodes[2]);
    net.kill(router_nodes[5]);
    net.advance(INTERVAL * 2, Duration::from_millis(250));
    let two = published(&net, auth_nodes[0]).expect("consensus");
    assert_eq!(two.signers(&auths).len(), 2);
    assert!(two.check(&auths, two.validity.valid_after, None).is_ok());
    assert!(!names(&two).iter().any(|n| n == "r05"));
    assert_eq!(published(&net, auth_nodes[1]).map(|d| d.to_text()), Some(two.to_text()));
}
