//! Reply onions end to end in memory (docs/reply-onions.md): five routers, a user's onion
//! proxy, the owner's endpoint in front of an echo service. Both ways of using a reply onion
//! (protocol 6 spliced at an exit, and direct from the onion proxy when h1 is its entry), data
//! both ways, half-close, DESTROY from either end tearing everything down with every ACI freed,
//! and the one-use rule.

mod common;

use std::time::Duration;

use common::reply::*;
use common::*;
use ork::client::OnionProxy;
use ork::crypto::CipherCode;
use ork::reply::record::Record;
use ork::reply::store::RecordStore;
use ork::router::Router;

const STEP: Duration = Duration::from_millis(10);

fn bed() -> Testbed {
    testbed(5, full_mesh(5), 3, CipherCode::Aes128Ctr, Duration::from_millis(10))
}

/// Nothing left anywhere: no connection, no ACI, no leg.
fn assert_all_gone(tb: &Testbed, owner_idx: usize, what: &str) {
    for (i, &r) in tb.routers.iter().enumerate() {
        let router = tb.net.node::<Router>(r);
        assert_eq!(router.connection_count(), 0, "{what}: router {i} connections");
        assert_eq!(router.acis_in_use(), 0, "{what}: router {i} ACIs");
    }
    let op = tb.net.node::<OnionProxy>(tb.proxy);
    assert_eq!((op.connection_count(), op.acis_in_use()), (0, 0), "{what}: onion proxy");
    assert_eq!(owner(&tb.net, owner_idx).legs(), 0, "{what}: owner's legs");
}

/// Data both ways, then the user's half-close, the service's answer to it, the end.
/// Returns the router that answered status 0 (the exit X), if any.
fn round_trip(direct: bool, route: &[usize], seed: u64) -> Option<usize> {
    let mut tb = bed();
    let exp = (tb.net.now.unix + 3600) as u32;
    let (line, record) = reply_onion(route, endpoint_addr(), exp, seed);
    let tag = record.tag();
    let o = add_owner(&mut tb.net, vec![record]);
    let mut user = User::start(&mut tb.net, tb.proxy_addr, &line, direct, b"hello, owner");
    tb.net.advance(Duration::from_millis(500), STEP);
    assert_eq!(user.status(&tb.net), Some(0), "status 0");
    assert_eq!(user.plain(&tb.net), b"hello, owner", "echoed through the reply route");
    let big = payload(20_000, seed);
    user.send(&mut tb.net, &big);
    tb.net.advance(Duration::from_secs(2), STEP);
    let mut want = b"hello, owner".to_vec();
    want.extend_from_slice(&big);
    assert_eq!(user.plain(&tb.net).len(), want.len());
    assert!(user.plain(&tb.net) == want, "20 000 bytes both ways");
    assert!(!tb.net.server_conns[user.conn].eof, "nobody ended yet");
    // The echo service on the owner's side never saw the user's address, nor anything but
    // the plain bytes.
    let service = tb.net.server_conns.iter().find(|c| c.addr == Some(ECHO.parse().unwrap())).expect("service");
    assert_eq!(service.received, want);
    // Half-close: the user's end of stream reaches the service, whose own end comes back.
    tb.net.server_shutdown(user.conn);
    tb.net.advance(Duration::from_secs(1), STEP);
    assert!(tb.net.server_conns[user.conn].eof, "the service's end reached the user");
    assert_all_gone(&tb, o, "after both ends finished");
    assert_eq!(owner(&tb.net, o).relayed, 1);
    let mut store = ork::reply::store::MemStore::default();
    std::mem::swap(&mut store, &mut *tb.net.node_mut::<ork::client::reply_endpoint::ReplyEndpoint<_>>(o).store_mut());
    assert!(matches!(store.load(&tag).unwrap(), Some(Record::Used { .. })), "record marked used, keys gone");
    (0..5).find(|&i| tb.net.node::<Router>(tb.routers[i]).stats().exit_status.contains_key(&0))
}

#[test]
fn spliced_through_an_exit_both_ways_and_half_close() {
    // The user's onion proxy (seeded) always draws the same route, whose exit X is r4: h1 = r3
    // is a neighbour of X, h1 = r4 is X itself (which then peels the onion).
    assert_eq!(round_trip(false, &[2, 3, 4], 1), Some(3), "X = r4, h1 = r3");
    assert_eq!(round_trip(false, &[3, 2, 4], 2), Some(3), "X = h1 = r4");
    assert_eq!(round_trip(false, &[2, 0, 1, 4, 3], 3), Some(3), "five hops back to X as hn");
}

#[test]
fn one_hop_reply_route() {
    assert_eq!(round_trip(false, &[1], 9), Some(3), "h1 = hn = r2, X = r4");
    assert_eq!(round_trip(false, &[3], 9), Some(3), "X = h1 = hn: the splice holds the endpoint leg");
}

#[test]
fn direct_from_the_entry_router() {
    round_trip(true, &[0, 3, 4], 5);
}

#[test]
fn direct_refused_when_h1_is_not_the_entry() {
    let mut tb = bed();
    let exp = (tb.net.now.unix + 3600) as u32;
    let (line, record) = reply_onion(&[2, 3], endpoint_addr(), exp, 6);
    add_owner(&mut tb.net, vec![record]);
    let user = User::start(&mut tb.net, tb.proxy_addr, &line, true, b"x");
    tb.net.advance(Duration::from_millis(300), STEP);
    assert_eq!(tb.net.server_conns[user.conn].received, vec![3], "status 3, then close");
}

#[test]
fn destroy_from_the_user_tears_down_everything() {
    for direct in [false, true] {
        let mut tb = bed();
        let exp = (tb.net.now.unix + 3600) as u32;
        let (line, record) = reply_onion(&[0, 2, 4], endpoint_addr(), exp, 7);
        let o = add_owner(&mut tb.net, vec![record]);
        let user = User::start(&mut tb.net, tb.proxy_addr, &line, direct, b"ping");
        tb.net.advance(Duration::from_millis(500), STEP);
        assert_eq!(user.plain(&tb.net), b"ping");
        tb.net.server_reset(user.conn);
        tb.net.advance(Duration::from_secs(1), STEP);
        assert_all_gone(&tb, o, if direct { "user reset (direct)" } else { "user reset" });
        let service = tb.net.server_conns.iter().find(|c| c.addr == Some(ECHO.parse().unwrap())).unwrap();
        assert!(service.closed || service.eof, "the service's connection ended");
    }
}

#[test]
fn destroy_from_the_owner_side_tears_down_everything() {
    let mut tb = bed();
    let exp = (tb.net.now.unix + 3600) as u32;
    let (line, record) = reply_onion(&[1, 2, 3], endpoint_addr(), exp, 8);
    let o = add_owner(&mut tb.net, vec![record]);
    let user = User::start(&mut tb.net, tb.proxy_addr, &line, false, b"ping");
    tb.net.advance(Duration::from_millis(500), STEP);
    assert_eq!(user.plain(&tb.net), b"ping");
    let service = tb.net.server_conns.iter().position(|c| c.addr == Some(ECHO.parse().unwrap())).unwrap();
    tb.net.server_reset(service);
    tb.net.advance(Duration::from_secs(1), STEP);
    assert!(tb.net.server_conns[user.conn].eof, "the user's connection closed");
    assert_all_gone(&tb, o, "service reset");
}

#[test]
fn a_second_use_is_refused_as_a_replay() {
    let mut tb = bed();
    let exp = (tb.net.now.unix + 3600) as u32;
    let (line, record) = reply_onion(&[1, 2, 3], endpoint_addr(), exp, 10);
    let o = add_owner(&mut tb.net, vec![record]);
    let first = User::start(&mut tb.net, tb.proxy_addr, &line, false, b"once");
    tb.net.advance(Duration::from_millis(500), STEP);
    assert_eq!(first.plain(&tb.net), b"once");
    let second = User::start(&mut tb.net, tb.proxy_addr, &line, false, b"twice");
    tb.net.advance(Duration::from_secs(1), STEP);
    assert_eq!(second.status(&tb.net), Some(0), "X answers 0: the CREATE has no acknowledgement");
    assert_eq!(second.plain(&tb.net), b"", "nothing came back");
    assert!(tb.net.server_conns[second.conn].eof, "the connection ended");
    let replays: u64 = tb
        .routers
        .iter()
        .map(|&r| {
            tb.net
                .node::<Router>(r)
                .stats()
                .onions_refused
                .get(&ork::router::OnionRefusal::Replayed)
                .copied()
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(replays, 1, "h1 refused the replayed seed");
    assert_eq!(owner(&tb.net, o).relayed, 1, "the owner saw one connection only");
    assert_eq!(first.plain(&tb.net), b"once", "the first connection is undisturbed");
}

#[test]
fn no_link_carries_the_data_or_joins_user_and_owner() {
    // Identity crypting on the user's route and on the reply route: only the end-to-end layer
    // is left to keep the data secret.
    let mut tb = testbed(5, full_mesh(5), 3, CipherCode::Identity, Duration::from_millis(10));
    let exp = (tb.net.now.unix + 3600) as u32;
    let (line, record) = reply_onion_with(CipherCode::Identity, &[1, 2, 4], endpoint_addr(), exp, 12);
    let o = add_owner(&mut tb.net, vec![record]);
    tb.net.log_wire = true;
    let secret = b"PASSWORD=correct-horse-battery-staple ".repeat(10);
    let user = User::start(&mut tb.net, tb.proxy_addr, &line, false, &secret);
    tb.net.advance(Duration::from_secs(1), STEP);
    assert_eq!(user.plain(&tb.net), secret, "echoed");
    let (proxy, r5) = (tb.proxy, tb.routers[4]);
    let mut peers_of_owner = std::collections::BTreeSet::new();
    let mut peers_of_proxy = std::collections::BTreeSet::new();
    for ((from, data), to) in tb.net.wire_log.iter().zip(&tb.net.wire_peers) {
        let (ork::sim::End::Node(a, _), ork::sim::End::Node(b, _)) = (from, to) else { continue };
        // Every node-to-node byte stream: links, and hn's leg to the owner.
        assert!(!data.windows(16).any(|w| secret.windows(16).any(|s| s == w)), "plain data on {a} → {b}");
        for (x, y) in [(*a, *b), (*b, *a)] {
            if x == o {
                peers_of_owner.insert(y);
            }
            if x == proxy {
                peers_of_proxy.insert(y);
            }
        }
    }
    assert_eq!(peers_of_owner.into_iter().collect::<Vec<_>>(), vec![r5], "the owner talks to hn only");
    assert_eq!(peers_of_proxy.into_iter().collect::<Vec<_>>(), vec![tb.routers[0]], "the user's side to r1 only");
}
