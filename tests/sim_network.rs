//! In-memory multi-router tests (protocol.md §3–§9) on a simulated network with virtual time: five
//! router cores, an onion proxy core and simulated destinations.

mod common;

use std::time::Duration;

use common::*;
use ork::client::OnionProxy;
use ork::crypto::CipherCode;
use ork::router::Router;

const STEP: Duration = Duration::from_millis(10);

#[test]
fn five_hops_carry_bytes_both_ways_for_every_cipher() {
    for code in CipherCode::ALL {
        let mut tb = testbed(5, full_mesh(5), 5, code, Duration::from_millis(10));
        let c = tb.net.client_connect(tb.proxy_addr).unwrap();
        tb.net.server_send(c, &structure("127.0.0.1", 7000));
        tb.net.advance(Duration::from_millis(200), STEP);
        assert_eq!(tb.net.server_conns[c].received, vec![0], "status byte, {code}");
        let data = payload(100_000, 1);
        for chunk in data.chunks(7_000) {
            tb.net.server_send(c, chunk);
        }
        tb.net.advance(Duration::from_millis(500), STEP);
        assert_eq!(tb.net.server_conns[c].received.len(), 1 + data.len(), "{code}");
        assert!(tb.net.server_conns[c].received[1..] == data[..], "echoed bytes intact, {code}");
        for &r in &tb.routers {
            assert_eq!(tb.net.node::<Router>(r).connection_count(), 1, "one connection per router");
        }
    }
}

#[test]
fn every_route_length_works() {
    for hops in 1..=5 {
        let mut tb = testbed(5, full_mesh(5), hops, CipherCode::Rc4, Duration::ZERO);
        let c = tb.net.client_connect(tb.proxy_addr).unwrap();
        let mut first = structure("127.0.0.1", 7000);
        first.extend_from_slice(b"hello early data");
        tb.net.server_send(c, &first);
        tb.net.advance(Duration::from_millis(100), STEP);
        assert_eq!(&tb.net.server_conns[c].received[..], b"\0hello early data", "{hops} hops");
        let busy = tb.routers.iter().filter(|&&r| tb.net.node::<Router>(r).connection_count() == 1).count();
        assert_eq!(busy, hops, "routers on the route");
    }
}

#[test]
fn half_close_then_destroy_frees_everything() {
    let mut tb = testbed(5, full_mesh(5), 5, CipherCode::Aes128Ctr, Duration::from_millis(10));
    let c = tb.net.client_connect(tb.proxy_addr).unwrap();
    tb.net.server_send(c, &structure("127.0.0.1", 7000));
    tb.net.server_send(c, b"request");
    tb.net.server_shutdown(c);
    tb.net.advance(Duration::from_millis(300), STEP);
    let conn = &tb.net.server_conns[c];
    assert_eq!(&conn.received[..], b"\0request", "response after our half-close");
    assert!(conn.eof, "end of stream reached the client");
    for &r in &tb.routers {
        assert_eq!(tb.net.node::<Router>(r).connection_count(), 0, "connection destroyed everywhere");
    }
    assert_eq!(tb.net.node::<OnionProxy>(tb.proxy).connection_count(), 0);
}

#[test]
fn middle_router_loss_closes_both_ends() {
    let mut tb = testbed(5, full_mesh(5), 5, CipherCode::Rc4, Duration::from_millis(10));
    let c = tb.net.client_connect(tb.proxy_addr).unwrap();
    tb.net.server_send(c, &structure("127.0.0.1", 7000));
    tb.net.advance(Duration::from_millis(200), STEP);
    assert_eq!(tb.net.server_conns[c].received, vec![0]);
    let echo_conn = tb.net.server_conns.iter().position(|s| s.addr == Some(ECHO.parse().unwrap())).unwrap();
    // Kill a router that is in the middle of the route (all five are on a 5-hop route).
    let middle = (1..5).find(|&i| tb.net.node::<Router>(tb.routers[i]).connection_count() == 1).unwrap();
    tb.net.kill(tb.routers[middle]);
    tb.net.advance(Duration::from_millis(200), STEP);
    assert!(tb.net.server_conns[c].eof, "client side closed");
    assert!(tb.net.server_conns[echo_conn].eof, "destination side closed");
    for (i, &r) in tb.routers.iter().enumerate() {
        if i != middle {
            assert_eq!(tb.net.node::<Router>(r).connection_count(), 0, "router {i}");
        }
    }
}

#[test]
fn refused_destination_answers_status_5_and_bad_structure_status_1() {
    let mut tb = testbed(5, full_mesh(5), 3, CipherCode::Rc4, Duration::ZERO);
    let c = tb.net.client_connect(tb.proxy_addr).unwrap();
    tb.net.server_send(c, &structure("127.0.0.1", 7999));
    tb.net.advance(Duration::from_millis(100), STEP);
    assert_eq!(tb.net.server_conns[c].received, vec![5]);
    assert!(tb.net.server_conns[c].eof);
    let c = tb.net.client_connect(tb.proxy_addr).unwrap();
    tb.net.server_send(c, &[9, 4, 0, 1]);
    tb.net.advance(Duration::from_millis(100), STEP);
    assert_eq!(tb.net.server_conns[c].received, vec![1]);
    let c = tb.net.client_connect(tb.proxy_addr).unwrap();
    tb.net.server_send(c, &structure("no-such-host.invalid", 80));
    tb.net.advance(Duration::from_millis(100), STEP);
    assert_eq!(tb.net.server_conns[c].received, vec![3], "unresolvable at the exit");
}

#[test]
fn restarted_router_reforms_its_links() {
    let links = full_mesh(5);
    let mut tb = testbed(5, links.clone(), 5, CipherCode::Rc4, Duration::from_millis(10));
    tb.net.kill(tb.routers[2]);
    tb.net.advance(Duration::from_secs(1), Duration::from_millis(100));
    assert_eq!(tb.net.node::<Router>(tb.routers[0]).linked_neighbors().len(), 3);
    let r = router(2, &links, Duration::from_millis(10), 999);
    tb.net.restart(tb.routers[2], r, vec![std::net::SocketAddr::V4(router_addr(2))]);
    tb.net.advance(Duration::from_secs(2), Duration::from_millis(50));
    for (i, &r) in tb.routers.iter().enumerate() {
        assert_eq!(tb.net.node::<Router>(r).linked_neighbors().len(), 4, "router {i} after restart");
    }
    let c = tb.net.client_connect(tb.proxy_addr).unwrap();
    tb.net.server_send(c, &structure("127.0.0.1", 7000));
    tb.net.advance(Duration::from_millis(200), STEP);
    assert_eq!(tb.net.server_conns[c].received, vec![0], "new connection through the restarted router");
}

#[test]
fn many_concurrent_connections_stay_separate() {
    let mut tb = testbed(5, full_mesh(5), 5, CipherCode::Rc4, Duration::from_millis(10));
    let conns: Vec<usize> = (0..50).map(|_| tb.net.client_connect(tb.proxy_addr).unwrap()).collect();
    for (i, &c) in conns.iter().enumerate() {
        let mut first = structure("127.0.0.1", 7000);
        first.extend_from_slice(&payload(3000, i as u64));
        tb.net.server_send(c, &first);
    }
    tb.net.advance(Duration::from_millis(500), STEP);
    for (i, &c) in conns.iter().enumerate() {
        let got = &tb.net.server_conns[c].received;
        assert_eq!(got[0], 0);
        assert!(got[1..] == payload(3000, i as u64)[..], "connection {i} intact");
    }
}
