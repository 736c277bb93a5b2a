//! Long-lived anonymous connections in the simulation (protocol.md §3 liveness, §6 DESTROY): idle
//! connections through an onion proxy and five routers, and through the stand-alone funnel,
//! survive 10 virtual minutes on PADDING alone; an end whose peer stops sending closes the link
//! after 90 s and both applications see the close; every non-zero status provoked through the
//! onion proxy ends with the DESTROY handshake complete and the ACI free on both sides.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use ork::client::funnel::Funnel;
use ork::client::OnionProxy;
use ork::crypto::CipherCode;
use ork::link::LinkLoss;
use ork::router::Router;
use ork::sim::SimNet;
use rand::rngs::StdRng;
use rand::SeedableRng;

const STEP: Duration = Duration::from_millis(10);
const FUNNEL: &str = "127.0.0.1:9100";

/// Open an echo connection through the onion proxy and check one round trip.
fn open_echo(net: &mut SimNet, proxy: SocketAddr) -> usize {
    let c = net.client_connect(proxy).expect("onion proxy listening");
    net.server_send(c, &structure("127.0.0.1", 7000));
    net.server_send(c, b"first line\n");
    net.advance(Duration::from_millis(300), STEP);
    assert_eq!(&net.server_conns[c].received[..], b"\0first line\n", "status 0 and the echo");
    c
}

/// After the idle time, data still flows both ways.
fn still_carries(net: &mut SimNet, c: usize) {
    let before = net.server_conns[c].received.len();
    let data = payload(5_000, 9);
    net.server_send(c, &data);
    net.advance(Duration::from_millis(500), STEP);
    let got = &net.server_conns[c].received[before..];
    assert!(got == &data[..], "{} of {} bytes echoed after the idle time", got.len(), data.len());
    assert!(!net.server_conns[c].eof, "connection still open");
}

fn echo_conn(net: &SimNet) -> usize {
    net.server_conns.iter().position(|s| s.addr == Some(ECHO.parse().unwrap())).expect("echo connection")
}

#[test]
fn idle_connection_through_the_onion_proxy_lives_ten_minutes() {
    let mut tb = testbed(5, full_mesh(5), 5, CipherCode::Aes128Ctr, Duration::from_millis(10));
    let c = open_echo(&mut tb.net, tb.proxy_addr);
    tb.net.advance(Duration::from_secs(600), Duration::from_secs(1));
    still_carries(&mut tb.net, c);
    for &r in &tb.routers {
        let s = tb.net.node::<Router>(r).stats().clone();
        assert_eq!(s.links_down, 0, "no link lost in 10 idle minutes: {:?}", s.links_lost);
        assert!(s.padding_in >= 10, "idle PADDING kept the links alive ({} cells)", s.padding_in);
    }
}

/// Five routers, a stand-alone funnel in front of r1 and an onion proxy that goes through it.
fn funnel_bed() -> (SimNet, Vec<usize>, usize, SocketAddr) {
    let links = full_mesh(5);
    let mut net = SimNet::new();
    let routers: Vec<usize> = (0..5)
        .map(|i| net.add(router(i, &links, STEP, 200 + i as u64), vec![SocketAddr::V4(router_addr(i))]))
        .collect();
    net.add_server(ECHO.parse().unwrap(), ork::sim::ServerKind::Echo);
    let funnel_addr: SocketAddr = FUNNEL.parse().unwrap();
    let funnel = Funnel::with_rng(
        Arc::new(keys()[5].clone()),
        SocketAddr::V4(router_addr(0)),
        keys()[0].to_public_key(),
        net.now,
        StdRng::seed_from_u64(11),
    );
    let funnel = net.add(funnel, vec![funnel_addr]);
    let mut cfg = proxy_config(5, &links, 5, CipherCode::Rc4);
    cfg.via = Some((funnel_addr, keys()[5].to_public_key()));
    let proxy_addr: SocketAddr = "127.0.0.1:9050".parse().unwrap();
    let op = net.add(OnionProxy::with_rng(cfg, net.now, StdRng::seed_from_u64(12)), vec![proxy_addr]);
    net.advance(Duration::from_secs(2), Duration::from_millis(100));
    assert!(net.node::<Funnel>(funnel).uplink_open(), "funnel uplink");
    assert!(net.node::<OnionProxy>(op).uplink_open(), "onion proxy uplink to the funnel");
    (net, routers, funnel, proxy_addr)
}

#[test]
fn idle_connection_through_the_funnel_lives_ten_minutes() {
    let (mut net, routers, funnel, proxy) = funnel_bed();
    let c = open_echo(&mut net, proxy);
    net.advance(Duration::from_secs(600), Duration::from_secs(1));
    still_carries(&mut net, c);
    assert_eq!(net.node::<Funnel>(funnel).connection_count(), 1);
    assert_eq!(net.node::<Funnel>(funnel).client_count(), 1, "the onion proxy's link to the funnel stayed up");
    for &r in &routers {
        assert_eq!(net.node::<Router>(r).stats().links_down, 0);
    }
}

#[test]
fn a_silent_onion_proxy_is_closed_after_90_s_and_both_applications_see_it() {
    let mut tb = testbed(5, full_mesh(5), 5, CipherCode::Aes128Ctr, Duration::from_millis(10));
    let c = open_echo(&mut tb.net, tb.proxy_addr);
    let echo = echo_conn(&tb.net);
    tb.net.mute(tb.proxy);
    tb.net.advance(Duration::from_secs(85), Duration::from_secs(1));
    assert!(!tb.net.server_conns[c].eof, "still open before 90 s");
    tb.net.advance(Duration::from_secs(10), Duration::from_secs(1));
    let entry = tb.net.node::<Router>(tb.routers[0]).stats().clone();
    assert_eq!(entry.links_lost.get(&LinkLoss::Silent), Some(&1), "entry router closed the silent link");
    assert!(tb.net.server_conns[c].eof, "the application at the onion proxy saw the close");
    assert!(tb.net.server_conns[echo].eof, "the destination saw the close");
    for &r in &tb.routers {
        assert_eq!(tb.net.node::<Router>(r).connection_count(), 0);
    }
}

#[test]
fn a_silent_entry_router_is_closed_by_the_onion_proxy_after_90_s() {
    let mut tb = testbed(5, full_mesh(5), 5, CipherCode::Aes128Ctr, Duration::from_millis(10));
    let c = open_echo(&mut tb.net, tb.proxy_addr);
    tb.net.mute(tb.routers[0]);
    tb.net.advance(Duration::from_secs(85), Duration::from_secs(1));
    assert!(!tb.net.server_conns[c].eof, "still open before 90 s");
    tb.net.advance(Duration::from_secs(10), Duration::from_secs(1));
    assert!(tb.net.server_conns[c].eof, "the onion proxy closed its uplink and the application");
    assert_eq!(tb.net.node::<OnionProxy>(tb.proxy).connection_count(), 0);
}

#[test]
fn every_exit_status_completes_the_destroy_handshake_on_both_sides() {
    let links = full_mesh(5);
    let mut tb = testbed(5, links.clone(), 5, CipherCode::Aes128Ctr, Duration::from_millis(10));
    // Routers whose exit refuses port 7002 (status 6).
    for i in 0..5 {
        let r = router_custom(i, &links, 500 + i as u64, |c| {
            c.exit_policy = ork::config::policy::Policy::parse_str("reject *:7002\naccept *:*\n", "test").unwrap();
            c.destroy_jitter = Duration::from_millis(50);
        });
        tb.net.restart(tb.routers[i], r, vec![SocketAddr::V4(router_addr(i))]);
    }
    tb.net.advance(Duration::from_secs(3), Duration::from_millis(50));
    let cases: [(&str, u16, u8); 3] = [("no-such-host.invalid", 80, 3), ("127.0.0.1", 7999, 5), ("127.0.0.1", 7002, 6)];
    for round in 0..20 {
        for (host, port, want) in cases {
            let c = tb.net.client_connect(tb.proxy_addr).unwrap();
            tb.net.server_send(c, &structure(host, port));
            tb.net.advance(Duration::from_millis(400), STEP);
            assert_eq!(tb.net.server_conns[c].received, vec![want], "{host}:{port}, round {round}");
            assert!(tb.net.server_conns[c].eof, "closed after status {want}");
            let op = tb.net.node::<OnionProxy>(tb.proxy);
            assert_eq!(op.acis_in_use(), 0, "onion proxy ACI free after status {want}");
            for (i, &r) in tb.routers.iter().enumerate() {
                let s = tb.net.node::<Router>(r).status_report(tb.net.now);
                let links: Vec<_> = s.links.iter().map(|l| (l.peer.clone(), l.cells_in, l.cells_out)).collect();
                assert_eq!(
                    (s.aci_slots, s.awaiting_destroy_ack),
                    (0, 0),
                    "router {i} ACIs free after status {want}, round {round}: {:?} {links:?}",
                    s.stats
                );
                assert_eq!(tb.net.node::<Router>(r).acis_in_use(), 0);
            }
        }
    }
    // And the uplink still works.
    let c = tb.net.client_connect(tb.proxy_addr).unwrap();
    tb.net.server_send(c, &structure("127.0.0.1", 7000));
    tb.net.advance(Duration::from_millis(300), STEP);
    assert_eq!(tb.net.server_conns[c].received, vec![0]);
}

#[test]
fn silent_connects_are_closed_after_the_10_s_handshake_deadline() {
    let mut tb = testbed(3, full_mesh(3), 3, CipherCode::Rc4, Duration::ZERO);
    let conns: Vec<usize> =
        (0..3).map(|_| tb.net.client_connect(SocketAddr::V4(router_addr(1))).expect("listening")).collect();
    tb.net.advance(Duration::from_secs(9), Duration::from_secs(1));
    assert!(conns.iter().all(|&c| !tb.net.server_conns[c].eof), "open before 10 s");
    tb.net.advance(Duration::from_secs(2), Duration::from_millis(250));
    assert!(conns.iter().all(|&c| tb.net.server_conns[c].eof), "closed after 10 s");
    let lost = tb.net.node::<Router>(tb.routers[1]).stats().links_lost.clone();
    assert_eq!(lost.get(&LinkLoss::HandshakeTimeout), Some(&3), "{lost:?}");
}
