//! Protocol 5 (resolve) end to end in memory (docs/socks.md): the onion proxy carries the
//! request over five routers, the exit funnel answers status 0, the address as ASCII and end of
//! stream; unknown names get 3, a port other than `0` gets 4, and the default exit policy refuses
//! a loopback answer with 6.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use ork::client::OnionProxy;
use ork::config::policy::Policy;
use ork::crypto::CipherCode;
use ork::router::Router;
use ork::sim::SimNet;
use ork::wire::isolation::IsolationKey;
use ork::wire::standard::Host;
use ork::wire::StandardStructure;
use rand::rngs::StdRng;
use rand::SeedableRng;

const STEP: Duration = Duration::from_millis(10);

fn resolve(host: &str) -> Vec<u8> {
    StandardStructure::resolve(Host::parse(host.as_bytes()).expect("host")).to_bytes()
}

#[test]
fn resolve_answers_status_address_and_end_of_stream() {
    let mut tb = testbed(5, full_mesh(5), 5, CipherCode::Aes128Ctr, Duration::from_millis(10));
    for (host, answer) in [("localhost", &b"\x00127.0.0.1"[..]), ("[2001:db8::1]", b"\x002001:db8::1")] {
        let c = tb.net.client_connect(tb.proxy_addr).unwrap();
        let mut first = resolve(host);
        first.extend_from_slice(b"ignored");
        tb.net.server_send(c, &first);
        tb.net.advance(Duration::from_millis(300), STEP);
        assert_eq!(&tb.net.server_conns[c].received[..], answer, "{host}");
        assert!(tb.net.server_conns[c].eof, "Length 0 after the address");
        tb.net.server_shutdown(c);
        tb.net.advance(Duration::from_millis(300), STEP);
        for &r in &tb.routers {
            assert_eq!(tb.net.node::<Router>(r).connection_count(), 0, "DESTROY after both ends finished");
        }
    }
    // The client has ended before the answer: DESTROY instead of Length 0.
    let c = tb.net.client_connect(tb.proxy_addr).unwrap();
    tb.net.server_send(c, &resolve("localhost"));
    tb.net.server_shutdown(c);
    tb.net.advance(Duration::from_millis(300), STEP);
    assert_eq!(&tb.net.server_conns[c].received[..], b"\x00127.0.0.1");
    for &r in &tb.routers {
        assert_eq!(tb.net.node::<Router>(r).connection_count(), 0, "DESTROY at once");
    }
    for (structure, status) in [
        (resolve("no-such-host.invalid"), 3u8),
        (b"\x01\x05\x00\x01localhost\x0080\x00".to_vec(), 4),
        (b"\x01\x04\x00\x01localhost\x000\x00".to_vec(), 4),
    ] {
        let c = tb.net.client_connect(tb.proxy_addr).unwrap();
        tb.net.server_send(c, &structure);
        tb.net.advance(Duration::from_millis(300), STEP);
        assert_eq!(tb.net.server_conns[c].received, vec![status], "{structure:?}");
        assert!(tb.net.server_conns[c].eof);
    }
}

#[test]
fn default_exit_policy_refuses_a_loopback_answer() {
    let mut net = SimNet::new();
    let r = net.add(
        router_custom(0, &[], 1, |c| c.exit_policy = Policy::default_exit()),
        vec![SocketAddr::V4(router_addr(0))],
    );
    let addr: SocketAddr = "127.0.0.1:9050".parse().unwrap();
    let op = OnionProxy::with_rng(proxy_config(1, &[], 1, CipherCode::Aes128Ctr), net.now, StdRng::seed_from_u64(3));
    net.add(op, vec![addr]);
    net.advance(Duration::from_secs(2), Duration::from_millis(100));
    let c = net.client_connect(addr).unwrap();
    net.server_send(c, &resolve("localhost"));
    net.advance(Duration::from_millis(300), STEP);
    assert_eq!(net.server_conns[c].received, vec![6], "loopback answer refused");
    assert_eq!(net.node::<Router>(r).connection_count(), 0);
}

#[test]
fn isolation_prefix_is_stripped_before_the_structure() {
    let mut tb = testbed(5, full_mesh(5), 3, CipherCode::Rc4, Duration::ZERO);
    for user in [&b"alice"[..], b"bob", b"carol"] {
        let c = tb.net.client_connect(tb.proxy_addr).unwrap();
        let mut first = IsolationKey::from_credentials(user, b"").to_prefix().to_vec();
        first.extend_from_slice(&structure("127.0.0.1", 7000));
        first.extend_from_slice(b"hi");
        tb.net.server_send(c, &first);
        tb.net.advance(Duration::from_millis(200), STEP);
        assert_eq!(&tb.net.server_conns[c].received[..], b"\0hi", "prefix stripped, data echoed");
    }
    assert_eq!(tb.net.node::<OnionProxy>(tb.proxy).connection_count(), 3);
}
