//! Reply onions refused in memory (docs/reply-onions.md): layers naming 0:0 (endpoint or relay),
//! an endpoint nothing listens on, expired at the routers and at the
//! owner, unknown tag, an endpoint the last router's exit policy refuses (the endpoint never
//! sees a connection), garbage on the reply endpoint, protocol 6 naming a non-neighbour, a
//! structure whose onion never comes, `--no-reply-onions`, the per-link reply rate and the
//! reply seeds' own quota. Each ends cleanly: the right status or the connection's end, every
//! ACI freed, nothing else disturbed.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::reply::*;
use common::*;
use ork::client::reply_endpoint::LegRefusal;
use ork::client::OnionProxy;
use ork::config::policy::Policy;
use ork::crypto::CipherCode;
use ork::onion::ONION_LEN;
use ork::router::onion_rate::OnionRate;
use ork::router::replay::ReplayCache;
use ork::router::{OnionRefusal, ReplyPart, ReplySettings, Router};
use ork::sim::SimNet;
use ork::wire::standard::Host;
use ork::wire::{Protocol, StandardStructure};
use rand::rngs::StdRng;
use rand::SeedableRng;

const STEP: Duration = Duration::from_millis(10);

/// Five routers in a full mesh (router `i` given `reply(i)` and `policy(i)`), the user's onion
/// proxy (three hops from r1) and the owner's endpoint holding `records`.
fn bed(
    reply: impl Fn(usize) -> ReplyPart,
    policy: impl Fn(usize) -> Policy,
    records: Vec<ork::reply::record::Record>,
) -> (Testbed, usize) {
    let links = full_mesh(5);
    let mut net = SimNet::new();
    let routers: Vec<usize> = (0..5)
        .map(|i| {
            let r = router_custom(i, &links, 300 + i as u64, |c| c.exit_policy = policy(i)).with_reply(reply(i));
            net.add(r, vec![SocketAddr::V4(router_addr(i))])
        })
        .collect();
    net.add_server(ECHO.parse().unwrap(), ork::sim::ServerKind::Echo);
    let proxy_addr: SocketAddr = "127.0.0.1:9050".parse().unwrap();
    let cfg = proxy_config(5, &links, 3, CipherCode::Aes128Ctr);
    let proxy = net.add(OnionProxy::with_rng(cfg, net.now, StdRng::seed_from_u64(7)), vec![proxy_addr]);
    let o = add_owner(&mut net, records);
    net.advance(Duration::from_secs(2), Duration::from_millis(100));
    (Testbed { net, routers, proxy, proxy_addr, links }, o)
}

fn default_bed(records: Vec<ork::reply::record::Record>) -> (Testbed, usize) {
    bed(|_| ReplyPart::default(), |_| Policy::accept_all(), records)
}

fn refused(tb: &Testbed, reason: OnionRefusal) -> u64 {
    tb.routers.iter().map(|&r| tb.net.node::<Router>(r).stats().onions_refused.get(&reason).copied().unwrap_or(0)).sum()
}

fn assert_clean(tb: &Testbed, o: usize, what: &str) {
    for (i, &r) in tb.routers.iter().enumerate() {
        let router = tb.net.node::<Router>(r);
        assert_eq!((router.connection_count(), router.acis_in_use()), (0, 0), "{what}: router {i}");
    }
    let op = tb.net.node::<OnionProxy>(tb.proxy);
    assert_eq!((op.connection_count(), op.acis_in_use()), (0, 0), "{what}: onion proxy");
    assert_eq!(owner(&tb.net, o).legs(), 0, "{what}: owner's legs");
}

/// The user gets status 0 and then only the connection's end.
fn assert_ended_after_status_0(tb: &Testbed, user: &User) {
    assert_eq!(tb.net.server_conns[user.conn].received, vec![0], "status 0, nothing else");
    assert!(tb.net.server_conns[user.conn].eof, "then the end");
}

#[test]
fn expired_at_the_routers_and_at_the_owner() {
    let now = SimNet::new().now.unix;
    let (old, old_rec) = reply_onion(&[1, 2, 3], endpoint_addr(), (now + 20) as u32, 1);
    // The owner's record expired although the routers still accept the onion.
    let (line, mut rec) = reply_onion(&[1, 2, 3], endpoint_addr(), (now + 3600) as u32, 2);
    if let ork::reply::record::Record::Live(r) = &mut rec {
        r.expiration = (now + 30) as u32;
    }
    let (mut tb, o) = default_bed(vec![old_rec, rec]);
    // Expired records are deleted by a sweep every minute: the owner sees this one between
    // two sweeps (after the next, its tag would be unknown).
    tb.net.advance(Duration::from_secs(40), Duration::from_millis(100));
    let u1 = User::start(&mut tb.net, tb.proxy_addr, &old, false, b"x");
    tb.net.advance(Duration::from_secs(1), STEP);
    assert_ended_after_status_0(&tb, &u1);
    assert_eq!(refused(&tb, OnionRefusal::Expired), 1, "h1 refused the expired onion");
    let u2 = User::start(&mut tb.net, tb.proxy_addr, &line, false, b"x");
    tb.net.advance(Duration::from_secs(1), STEP);
    assert_ended_after_status_0(&tb, &u2);
    assert_eq!(owner(&tb.net, o).refused.get(&LegRefusal::Expired), Some(&1));
    assert_eq!(owner(&tb.net, o).relayed, 0);
    assert_clean(&tb, o, "expired");
}

#[test]
fn unknown_tag_is_closed() {
    let (mut tb, o) = default_bed(vec![]);
    let exp = (tb.net.now.unix + 3600) as u32;
    let (line, _) = reply_onion(&[1, 2, 3], endpoint_addr(), exp, 3);
    let user = User::start(&mut tb.net, tb.proxy_addr, &line, false, b"x");
    tb.net.advance(Duration::from_secs(1), STEP);
    assert_ended_after_status_0(&tb, &user);
    assert_eq!(owner(&tb.net, o).refused.get(&LegRefusal::UnknownTag), Some(&1));
    assert_clean(&tb, o, "unknown tag");
}

#[test]
fn endpoint_refused_by_the_exit_policy_never_sees_a_connection() {
    // hn = r4 has the default exit policy, which refuses loopback (also for proto=reply).
    let (mut tb, o) =
        bed(|_| ReplyPart::default(), |i| if i == 3 { Policy::default_exit() } else { Policy::accept_all() }, vec![]);
    let exp = (tb.net.now.unix + 3600) as u32;
    let (line, _) = reply_onion(&[1, 2, 3], endpoint_addr(), exp, 4);
    let user = User::start(&mut tb.net, tb.proxy_addr, &line, false, b"x");
    tb.net.advance(Duration::from_secs(1), STEP);
    assert_ended_after_status_0(&tb, &user);
    assert_eq!(refused(&tb, OnionRefusal::ReplyEndpointRefused), 1);
    let o_ref = owner(&tb.net, o);
    assert_eq!((o_ref.relayed, o_ref.refused.values().sum::<u64>()), (0, 0), "the endpoint saw nothing");
    assert_clean(&tb, o, "policy");
}

#[test]
fn garbage_on_the_reply_endpoint_is_closed() {
    let (mut tb, o) = default_bed(vec![]);
    for (first, why) in [(0x02u8, LegRefusal::BadVersion), (0x01, LegRefusal::UnknownTag)] {
        let c = tb.net.client_connect(SocketAddr::V4(endpoint_addr())).unwrap();
        let mut junk = payload(1 << 20, 9);
        junk[0] = first;
        tb.net.server_send(c, &junk);
        tb.net.advance(Duration::from_millis(200), STEP);
        assert!(tb.net.server_conns[c].eof, "closed");
        assert!(tb.net.server_conns[c].received.is_empty(), "nothing answered");
        assert_eq!(owner(&tb.net, o).refused.get(&why), Some(&1), "{why:?}");
    }
    // A leg that never sends its head is closed after 10 s.
    let c = tb.net.client_connect(SocketAddr::V4(endpoint_addr())).unwrap();
    tb.net.server_send(c, &[1, 2, 3]);
    tb.net.advance(Duration::from_secs(11), Duration::from_millis(100));
    assert!(tb.net.server_conns[c].eof);
    assert_eq!(owner(&tb.net, o).refused.get(&LegRefusal::HeadTimeout), Some(&1));
    assert_clean(&tb, o, "garbage");
}

#[test]
fn protocol_6_naming_a_non_neighbour_or_without_its_onion_gets_status_7() {
    let (mut tb, o) = default_bed(vec![]);
    let c = tb.net.client_connect(tb.proxy_addr).unwrap();
    let s = StandardStructure::new(Protocol::Reply, Host::V4("127.0.0.1".parse().unwrap()), 9999);
    let mut req = s.to_bytes();
    req.extend_from_slice(&[0u8; ONION_LEN]);
    tb.net.server_send(c, &req);
    tb.net.advance(Duration::from_secs(1), STEP);
    assert_eq!(tb.net.server_conns[c].received, vec![7], "not a neighbour: status 7");
    // The structure alone: X waits 10 s for the onion, then status 7.
    let c = tb.net.client_connect(tb.proxy_addr).unwrap();
    let s = StandardStructure::new(Protocol::Reply, Host::V4("127.0.0.1".parse().unwrap()), 9003);
    tb.net.server_send(c, &s.to_bytes());
    tb.net.server_send(c, &[0u8; 100]);
    tb.net.advance(Duration::from_secs(9), Duration::from_millis(100));
    assert!(tb.net.server_conns[c].received.is_empty(), "still waiting");
    tb.net.advance(Duration::from_secs(2), Duration::from_millis(100));
    assert_eq!(tb.net.server_conns[c].received, vec![7], "no onion within 10 s: status 7");
    // A host name instead of h1's IPv4 address: status 3.
    let c = tb.net.client_connect(tb.proxy_addr).unwrap();
    let s = StandardStructure::new(Protocol::Reply, Host::Name("h1.example".into()), 9003);
    tb.net.server_send(c, &s.to_bytes());
    tb.net.advance(Duration::from_secs(1), STEP);
    assert_eq!(tb.net.server_conns[c].received, vec![3], "h1 by name: status 3");
    tb.net.advance(Duration::from_secs(1), STEP);
    assert_clean(&tb, o, "status 7");
}

#[test]
fn no_reply_onions_rate_and_quota() {
    let settings = |rate| ReplySettings { rate, ..ReplySettings::default() };
    let none = ReplySettings { max_lifetime: None, ..ReplySettings::default() };
    let (mut tb, o) = bed(
        |i| match i {
            // r1 takes 2 a link in a burst; r2 refuses reply onions; r4 holds 1 reply seed.
            0 => ReplyPart::new(settings(OnionRate { per_second: 0.001, burst: 2 }), ReplayCache::new(10)),
            1 => ReplyPart::new(none, ReplayCache::new(10)),
            3 => ReplyPart::new(ReplySettings::default(), ReplayCache::new(1)),
            _ => ReplyPart::default(),
        },
        |_| Policy::accept_all(),
        vec![],
    );
    let exp = (tb.net.now.unix + 3600) as u32;
    let run = |tb: &mut Testbed, route: &[usize], seed| {
        let (line, _) = reply_onion(route, endpoint_addr(), exp, seed);
        // Direct when h1 is the entry r1: the onions then come on one link, the uplink.
        let user = User::start(&mut tb.net, tb.proxy_addr, &line, route[0] == 0, b"x");
        tb.net.advance(Duration::from_secs(1), STEP);
        assert_ended_after_status_0(tb, &user);
    };
    run(&mut tb, &[1, 3], 20);
    assert_eq!(refused(&tb, OnionRefusal::Undecryptable), 1, "--no-reply-onions: refused like a bad version");
    for seed in 21..24 {
        run(&mut tb, &[0, 4], seed);
    }
    assert_eq!(refused(&tb, OnionRefusal::ReplyRateLimited), 1, "the third on one link within the burst");
    run(&mut tb, &[3, 4], 30);
    run(&mut tb, &[3, 4], 31);
    assert_eq!(refused(&tb, OnionRefusal::ReplyCacheFull), 1, "r4's reply quota holds one seed");
    // Ordinary onions still pass r4: its reply quota is its own.
    let c = tb.net.client_connect(tb.proxy_addr).unwrap();
    let mut req = structure(ECHO.split(':').next().unwrap(), 7000);
    req.extend_from_slice(b"ordinary");
    tb.net.server_send(c, &req);
    tb.net.advance(Duration::from_secs(1), STEP);
    assert_eq!(&tb.net.server_conns[c].received[..], b"\x00ordinary");
    tb.net.server_shutdown(c);
    tb.net.advance(Duration::from_secs(1), STEP);
    assert_clean(&tb, o, "refusals");
}

/// A one-hop onion for router `r` whose only layer is `layer` (kinds and destinations
/// `build_reply` would refuse to make).
fn raw_onion(r: usize, layer: ork::wire::layer::Layer) -> ork::onion::Onion {
    use ork::crypto::rsa_block::{encrypt_block, RSA_BLOCK_LEN};
    use ork::crypto::{Engine, KeySet};
    let mut block = layer.to_bytes().to_vec();
    block.resize(ONION_LEN, 0x5a);
    let mut head = [0u8; RSA_BLOCK_LEN];
    head.copy_from_slice(&block[..RSA_BLOCK_LEN]);
    let mut onion = encrypt_block(&keys()[r].to_public_key(), &head).unwrap().to_vec();
    let mut tail = block[RSA_BLOCK_LEN..].to_vec();
    Engine::des_ofb(&KeySet::derive(&layer.seed).key1_des()).apply(&mut tail);
    onion.extend_from_slice(&tail);
    onion.try_into().unwrap()
}

#[test]
fn zero_endpoints_and_unreachable_endpoints() {
    use ork::wire::layer::{Layer, LayerKind};
    use ork::wire::Command;
    let (mut tb, o) = default_bed(vec![]);
    let exp = (tb.net.now.unix + 3600) as u32;
    let layer = |kind, next_hop, b| Layer {
        kind,
        back_f: CipherCode::Aes128Ctr,
        forw_f: CipherCode::Aes128Ctr,
        next_hop,
        expiration: exp,
        seed: [b; 16],
    };
    let zero = "0.0.0.0:0".parse().unwrap();
    let cases = [
        (layer(LayerKind::ReplyEndpoint, zero, 1), OnionRefusal::ReplyEndpointZero),
        (layer(LayerKind::ReplyEndpoint, "127.0.0.1:0".parse().unwrap(), 2), OnionRefusal::ReplyEndpointZero),
        (layer(LayerKind::ReplyRelay, zero, 3), OnionRefusal::ReplyRelayToExit),
    ];
    let mut client = RawClient::connect(&mut tb.net, 2);
    for (i, (l, why)) in cases.into_iter().enumerate() {
        let aci = 10 + i as u16;
        client.send(&mut tb.net, &create_cells(aci, &raw_onion(2, l)));
        tb.net.advance(Duration::from_millis(100), STEP);
        let back = client.cells(&tb.net);
        assert!(back.iter().any(|c| c.command == Command::Destroy && c.aci.0 == aci), "{why:?}: DESTROY");
        assert_eq!(refused(&tb, why), if i == 1 { 2 } else { 1 }, "{why:?} counted");
    }
    // A reply onion whose hn cannot reach the endpoint (nothing listens there): hn's one
    // attempt fails, the user's connection ends after status 0.
    let nowhere = "127.0.0.1:9071".parse().unwrap();
    let (line, _) = reply_onion(&[1, 2, 3], nowhere, exp, 40);
    let user = User::start(&mut tb.net, tb.proxy_addr, &line, false, b"x");
    tb.net.advance(Duration::from_secs(1), STEP);
    assert_ended_after_status_0(&tb, &user);
    tb.net.server_reset(client.conn);
    tb.net.advance(Duration::from_secs(1), STEP);
    assert_clean(&tb, o, "zero and unreachable endpoints");
}
