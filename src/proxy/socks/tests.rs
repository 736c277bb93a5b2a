//! The SOCKS session against the test reactor: every version and command, the status→reply
//! mapping, optimistic data, isolation keys, and each kind of bad input.

use proptest::prelude::*;

use super::request::{cmd, rep};
use super::*;
use crate::proxy::testutil::{event_strategy, run_events, Harness};
use crate::wire::standard::Host;

fn bytes(h: &mut Harness<SocksSession>) -> Vec<u8> {
    std::mem::take(&mut h.client)
}

fn v5_name(cmd: u8, name: &[u8], port: u16) -> Vec<u8> {
    let mut r = vec![5, cmd, 0, 3, name.len() as u8];
    r.extend_from_slice(name);
    r.extend_from_slice(&port.to_be_bytes());
    r
}

#[test]
fn socks5_connect_by_name_with_optimistic_data() {
    let mut h = Harness::new(SocksSession::new());
    h.client_sends(&[5, 1, 0]);
    assert_eq!(bytes(&mut h), [5, 0]);
    let mut req = v5_name(cmd::CONNECT, b"example.org", 80);
    req.extend_from_slice(b"GET / HTTP/1.0\r\n\r\n");
    h.client_trickles(&req);
    let s = h.peer(0).structure.clone().unwrap();
    assert_eq!((s.protocol, s.host, s.port), (Protocol::Tcp, Host::Name("example.org".into()), 80));
    assert_eq!(h.take_upstream(0), "GET / HTTP/1.0\r\n\r\n", "sent before the status byte");
    assert!(h.client.is_empty(), "no reply before the status");
    assert_eq!(h.session.isolation(), None);
    h.status(0, Status::Ok);
    assert_eq!(bytes(&mut h), reply5(0, None));
    h.upstream_sends(0, b"HTTP/1.0 200 OK\r\n\r\nhi");
    assert_eq!(h.take_client(), "HTTP/1.0 200 OK\r\n\r\nhi");
    h.client_eof();
    h.upstream_eof(0);
    assert!(h.client_closed && h.peer(0).closed);
}

#[test]
fn credentials_become_an_isolation_key() {
    let mut keys = Vec::new();
    for user in [&b"alice"[..], b"bob", b"alice"] {
        let mut h = Harness::new(SocksSession::new());
        h.client_sends(&[5, 2, 0, 2]);
        assert_eq!(bytes(&mut h), [5, 2], "username/password chosen when offered");
        let mut auth = vec![1, user.len() as u8];
        auth.extend_from_slice(user);
        auth.extend_from_slice(&[1, b'x']);
        h.client_sends(&auth);
        assert_eq!(bytes(&mut h), [1, 0], "any credentials are accepted");
        h.client_sends(&[5, 1, 0, 1, 127, 0, 0, 1, 0, 22]);
        assert_eq!(h.peer(0).structure.as_ref().unwrap().host, Host::V4([127, 0, 0, 1].into()));
        keys.push(h.session.isolation().expect("a key"));
    }
    assert_ne!(keys[0], keys[1]);
    assert_eq!(keys[0], keys[2]);
}

#[test]
fn ipv6_and_socks4_and_4a() {
    let mut h = Harness::new(SocksSession::new());
    let mut req = vec![5, 1, 0, 5, 1, 0, 4];
    req.extend_from_slice(&std::net::Ipv6Addr::LOCALHOST.octets());
    req.extend_from_slice(&443u16.to_be_bytes());
    h.client_sends(&req);
    assert_eq!(h.peer(0).structure.as_ref().unwrap().to_bytes(), b"\x01\x04\x00\x01[::1]\x00443\x00");

    let mut h = Harness::new(SocksSession::new());
    h.client_sends(b"\x04\x01\x00\x50\x7f\x00\x00\x01\x00");
    assert_eq!(h.peer(0).structure.as_ref().unwrap().host, Host::V4([127, 0, 0, 1].into()));
    assert_eq!(h.session.isolation(), None, "empty user id: no key");
    h.status(0, Status::Ok);
    assert_eq!(bytes(&mut h), reply4(true, None));

    let mut h = Harness::new(SocksSession::new());
    h.client_trickles(b"\x04\x01\x00\x50\x00\x00\x00\x01joe\x00host.example\x00early");
    assert_eq!(h.peer(0).structure.as_ref().unwrap().host, Host::Name("host.example".into()));
    assert!(h.session.isolation().is_some(), "a SOCKS4 user id is a key");
    assert_eq!(h.take_upstream(0), "early");
    h.status(0, Status::ConnectFailed);
    assert_eq!(bytes(&mut h), [0, 0x5B, 0, 0, 0, 0, 0, 0]);
    assert!(h.client_closed);
}

#[test]
fn status_bytes_map_to_socks5_replies() {
    for (status, code) in [
        (Status::ConnectFailed, rep::CONNECTION_REFUSED),
        (Status::Policy, rep::NOT_ALLOWED),
        (Status::BadAddress, rep::HOST_UNREACHABLE),
        (Status::RouteFailed, rep::GENERAL_FAILURE),
        (Status::BadPort, rep::GENERAL_FAILURE),
    ] {
        let mut h = Harness::new(SocksSession::new());
        h.client_sends(&[5, 1, 0]);
        h.client_sends(&v5_name(cmd::CONNECT, b"example.org", 80));
        h.take_client();
        h.status(0, status);
        assert_eq!(bytes(&mut h), reply5(code, None), "{status}");
        assert!(h.client_closed && h.peer(0).closed);
    }
}

#[test]
fn resolve_goes_to_the_exit_and_answers_the_address() {
    for (answer, version, want) in [
        ("93.184.216.34", 5, reply5(0, Some("93.184.216.34".parse().unwrap()))),
        ("2001:db8::1", 5, reply5(0, Some("2001:db8::1".parse().unwrap()))),
        ("10.1.2.3", 4, reply4(true, Some([10, 1, 2, 3].into()))),
        ("2001:db8::1", 4, reply4(false, None)),
    ] {
        let mut h = Harness::new(SocksSession::new());
        if version == 5 {
            h.client_sends(&[5, 1, 0]);
            h.take_client();
            h.client_sends(&v5_name(cmd::RESOLVE, b"example.org", 0));
        } else {
            h.client_sends(b"\x04\xf0\x00\x00\x00\x00\x00\x01\x00example.org\x00");
        }
        let s = h.peer(0).structure.clone().unwrap();
        assert_eq!(s.to_bytes(), b"\x01\x05\x00\x01example.org\x000\x00");
        h.status(0, Status::Ok);
        assert!(h.client.is_empty());
        h.upstream_trickles(0, answer.as_bytes());
        h.upstream_eof(0);
        assert_eq!(bytes(&mut h), want, "{answer} v{version}");
        assert!(h.client_closed && h.peer(0).closed);
    }
    // Unknown name: status 3 → host unreachable.
    let mut h = Harness::new(SocksSession::new());
    h.client_sends(&[5, 1, 0]);
    h.take_client();
    h.client_sends(&v5_name(cmd::RESOLVE, b"nowhere.invalid", 0));
    h.status(0, Status::BadAddress);
    assert_eq!(bytes(&mut h), reply5(rep::HOST_UNREACHABLE, None));
}

/// Each bad input: the reply it gets (empty: none), and the session closes.
#[test]
fn bad_input_gets_its_reply_and_a_close() {
    let greet: &[u8] = &[5, 1, 0];
    let cases: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (vec![5, 0], vec![5, 0xFF]),       // no methods
        (vec![5, 1, 0x80], vec![5, 0xFF]), // no acceptable method
        (vec![9, 1, 0], vec![]),           // unknown version
        (b"GET / HTTP/1.1\r\n".to_vec(), NOT_HTTP.to_vec()),
        (
            [greet, &v5_name(cmd::CONNECT, b"", 80)].concat(),
            [&[5, 0][..], &reply5(rep::HOST_UNREACHABLE, None)].concat(),
        ),
        (
            [greet, &v5_name(cmd::CONNECT, b"a b", 80)].concat(),
            [&[5, 0][..], &reply5(rep::HOST_UNREACHABLE, None)].concat(),
        ),
        (
            [greet, &v5_name(cmd::CONNECT, b"h.example", 0)].concat(),
            [&[5, 0][..], &reply5(rep::GENERAL_FAILURE, None)].concat(),
        ),
        ([greet, &[5, cmd::BIND, 0, 1]].concat(), [&[5, 0][..], &reply5(rep::COMMAND_NOT_SUPPORTED, None)].concat()),
        (
            [greet, &[5, cmd::UDP_ASSOCIATE, 0]].concat(),
            [&[5, 0][..], &reply5(rep::COMMAND_NOT_SUPPORTED, None)].concat(),
        ),
        ([greet, &[5, 1, 0, 9]].concat(), [&[5, 0][..], &reply5(rep::ADDRESS_TYPE_NOT_SUPPORTED, None)].concat()),
        (
            [greet, &[5, cmd::RESOLVE_PTR, 0, 1, 1, 2, 3, 4, 0, 0]].concat(),
            [&[5, 0][..], &reply5(rep::HOST_UNREACHABLE, None)].concat(),
        ),
        (vec![4, 2, 0, 80, 1, 2, 3, 4, 0], reply4(false, None)), // SOCKS4 BIND
        ([&[4, 1, 0, 80, 1, 2, 3, 4][..], &[b'u'; 300]].concat(), reply4(false, None)),
        (vec![5, 1, 2, 2, 0], vec![5, 2, 1, 1]), // RFC 1929 with a bad version: failure status
    ];
    for (input, want) in cases {
        let mut h = Harness::new(SocksSession::new());
        h.client_sends(&input);
        assert_eq!(bytes(&mut h), want, "{input:02x?}");
        assert!(h.client_closed, "{input:02x?} closes");
        assert!(h.opened.is_empty(), "{input:02x?} opened nothing");
        assert!(!h.session.wants_client_data());
    }
    // A truncated request then EOF: a close, nothing opened.
    let mut h = Harness::new(SocksSession::new());
    h.client_sends(&[5, 1, 0, 5, 1, 0, 3, 20, b'a']);
    h.client_eof();
    assert!(h.client_closed && h.opened.is_empty());
    // 1 MiB of garbage that starts like SOCKS5: refused within the first bytes.
    let mut h = Harness::new(SocksSession::new());
    let garbage: Vec<u8> = (0..1 << 20).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 1).collect();
    h.client_sends(&[&[5u8][..], &garbage].concat());
    assert!(h.client_closed && h.opened.is_empty());
}

#[test]
fn refused_clients_are_closed_without_a_word() {
    let mut h = Harness::new(SocksSession::new());
    h.session.refuse_client();
    h.drain();
    assert!(h.client_closed && h.client.is_empty());
}

proptest! {
    #[test]
    fn never_panics(events in proptest::collection::vec(event_strategy(proptest::collection::vec(any::<u8>(), 0..40)), 0..40)) {
        run_events(SocksSession::new(), events);
    }
}
