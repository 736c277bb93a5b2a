//! The per-link onion rate limit in the simulation with virtual time (issue 22): a burst beyond
//! the bucket is refused with DESTROY before any RSA work and counted; the bucket refills at the
//! configured rate; another link is not affected.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use ork::router::{OnionRate, OnionRefusal, Router};
use ork::sim::SimNet;
use ork::wire::Command;

fn send_onions(net: &mut SimNet, client: &mut RawClient, acis: std::ops::Range<u16>, seed: u64) {
    let exp = net.now.unix as u32 + 600;
    for aci in acis {
        let (onion, _) = onion_for(&[0], exp, seed * 10_000 + u64::from(aci));
        client.send(net, &create_cells(aci, &onion));
    }
    net.run();
    // DESTROYs leave with the next mixer batch (10 ms); 20 ms refill 0.2 tokens at 10/s.
    net.advance(Duration::from_millis(20), Duration::from_millis(10));
}

fn destroyed(net: &SimNet, client: &mut RawClient) -> usize {
    client.cells(net).iter().filter(|c| c.command == Command::Destroy).count()
}

#[test]
fn onions_beyond_the_bucket_are_destroyed_and_counted() {
    let mut net = SimNet::new();
    let rate = OnionRate { per_second: 10.0, burst: 20 };
    let r = router_custom(0, &[], 7, |_| {}).with_onion_rate(rate);
    let idx = net.add(r, vec![SocketAddr::V4(router_addr(0))]);
    net.advance(Duration::from_secs(1), Duration::from_millis(100));
    let mut greedy = RawClient::connect(&mut net, 0);
    let mut other = RawClient::connect(&mut net, 0);

    // A burst of 30 at one instant: the bucket's 20 pass, 10 are refused.
    send_onions(&mut net, &mut greedy, 1..31, 1);
    let stats = net.node::<Router>(idx).stats();
    assert_eq!(stats.onions_peeled, 20);
    assert_eq!(stats.onions_refused.get(&OnionRefusal::RateLimited), Some(&10), "{:?}", stats.onions_refused);
    assert_eq!(destroyed(&net, &mut greedy), 10, "each refused onion gets a DESTROY");

    // Another link has a bucket of its own.
    send_onions(&mut net, &mut other, 1..6, 2);
    assert_eq!(net.node::<Router>(idx).stats().onions_peeled, 25);
    assert_eq!(destroyed(&net, &mut other), 0);

    // One virtual second later the greedy link has 10 more tokens, no more.
    net.advance(Duration::from_secs(1), Duration::from_millis(100));
    send_onions(&mut net, &mut greedy, 100..115, 3);
    let stats = net.node::<Router>(idx).stats();
    assert_eq!(stats.onions_peeled, 35);
    assert_eq!(stats.onions_refused.get(&OnionRefusal::RateLimited), Some(&15));
    assert_eq!(destroyed(&net, &mut greedy), 5);
}
