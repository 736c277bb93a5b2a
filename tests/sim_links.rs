//! In-memory tests of link upkeep (protocol.md §3, §6): PADDING at the configured rate, and idle links
//! kept alive by PADDING rather than closed.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use ork::router::Router;
use ork::sim::SimNet;

fn pair(padding_rate: f64) -> (SimNet, Vec<usize>) {
    let links = full_mesh(2);
    let mut net = SimNet::new();
    let routers: Vec<usize> = (0..2)
        .map(|i| {
            let r = router_custom(i, &links, 300 + i as u64, |c| c.padding_rate = padding_rate);
            net.add(r, vec![SocketAddr::V4(router_addr(i))])
        })
        .collect();
    net.advance(Duration::from_secs(1), Duration::from_millis(50));
    (net, routers)
}

#[test]
fn padding_arrives_at_the_configured_rate() {
    let (mut net, r) = pair(20.0);
    let before = net.node::<Router>(r[1]).stats().padding_in;
    net.advance(Duration::from_secs(30), Duration::from_millis(50));
    let got = net.node::<Router>(r[1]).stats().padding_in - before;
    // 20 cells/s for 30 s: 600 expected; Poisson, so allow ±20 %.
    assert!((480..=720).contains(&got), "{got} PADDING cells in 30 s at 20/s");
}

#[test]
fn idle_links_stay_up_on_padding() {
    let (mut net, r) = pair(0.0);
    net.advance(Duration::from_secs(200), Duration::from_secs(1));
    for &x in &r {
        assert_eq!(net.node::<Router>(x).linked_neighbors().len(), 1, "link kept alive");
        assert!(net.node::<Router>(x).stats().padding_in >= 5, "idle PADDING every 30 s");
        assert_eq!(net.node::<Router>(x).stats().links_down, 0);
    }
}
