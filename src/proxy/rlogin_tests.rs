//! Byte-level tests of the rlogin proxy session: the massaged request, the relay, refusals.

use proptest::prelude::*;

use super::rlogin::{RloginError, RloginRequest};
use super::testutil::{event_strategy, run_events, Harness};
use super::{RloginSession, Session, RLOGIN_PORT};
use crate::wire::standard::{Host, Protocol, Status};

const REQUEST: &[u8] = b"\0joe\0mary@recipient.example\0xterm/38400\0";

fn proxy() -> Harness<RloginSession> {
    Harness::new(RloginSession::new(RLOGIN_PORT))
}

#[test]
fn request_is_massaged_and_relayed() {
    for trickle in [false, true] {
        let mut h = proxy();
        if trickle {
            h.client_trickles(REQUEST);
        } else {
            h.client_sends(REQUEST);
        }
        let up = h.last_opened();
        let s = h.peer(up).structure.clone().unwrap();
        assert_eq!((s.protocol, s.host, s.port), (Protocol::Rlogin, Host::Name("recipient.example".into()), 513));
        h.client_sends(b"typed early");
        h.status(up, Status::Ok);
        let sent = h.take_upstream(up);
        assert_eq!(sent, "\0mary\0mary\0xterm/38400\0typed early");
        assert!(!sent.contains("joe"), "the client's user name never leaves");
        h.upstream_sends(up, b"\0Last login: never\r\n$ ");
        assert_eq!(h.take_client(), "\0Last login: never\r\n$ ");
        h.client_sends(b"ls\r");
        assert_eq!(h.take_upstream(up), "ls\r");
        h.upstream_eof(up);
        assert!(h.client_write_shut);
        h.client_eof();
        assert!(h.client_closed && h.peer(up).closed && h.session.is_finished());
    }
}

#[test]
fn bad_status_is_an_rlogin_error_line() {
    let mut h = proxy();
    h.client_sends(REQUEST);
    let up = h.last_opened();
    h.status(up, Status::BadAddress);
    let reply = h.take_client();
    assert!(reply.starts_with('\u{1}') && reply.ends_with('\n'), "{reply:?}");
    assert!(reply.contains(Status::BadAddress.meaning()));
    assert_eq!(reply.lines().count(), 1);
    assert!(h.client_closed && h.peer(up).closed);
}

#[test]
fn malformed_requests_are_refused() {
    let cases: [(&[u8], RloginError); 5] = [
        (b"joe\0mary@h\0xterm\0", RloginError::NoLeadingNul),
        (b"\0joe\0mary\0xterm\0", RloginError::NoServer),
        (b"\0joe\0@h\0xterm\0", RloginError::NoServer),
        (b"\0joe\0mary@bad host\0xterm\0", RloginError::NotText),
        (b"\0joe\0mary@-bad-\0xterm\0", RloginError::BadServer("-bad-".into())),
    ];
    for (request, error) in cases {
        assert_eq!(RloginRequest::parse(request), Err(error.clone()));
        let mut h = proxy();
        h.client_sends(request);
        let reply = h.take_client();
        assert!(reply.starts_with('\u{1}') && reply.contains(&error.to_string()), "{reply:?}");
        assert!(h.client_closed && h.opened.is_empty());
    }
    let mut endless = b"\0".to_vec();
    endless.resize(2000, b'a');
    assert_eq!(RloginRequest::parse(&endless), Err(RloginError::TooLong));
    assert_eq!(RloginRequest::parse(b"\0joe\0mary@h"), Ok(None));
}

#[test]
fn client_leaving_early() {
    let mut h = proxy();
    h.client_sends(b"\0joe\0ma");
    h.client_eof();
    assert!(h.client_closed && h.opened.is_empty());

    let mut h = proxy();
    h.client_sends(REQUEST);
    h.session.client_closed();
    h.drain();
    assert!(h.client_closed && h.peer(0).closed);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn arbitrary_events_never_panic(events in proptest::collection::vec(event_strategy(
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..64),
            Just(REQUEST.to_vec()),
            Just(b"\0a\0b@c".to_vec()),
        ]), 0..30)) {
        run_events(RloginSession::new(RLOGIN_PORT), events);
    }

    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(Some((request, n))) = RloginRequest::parse(&bytes) {
            prop_assert!(n <= bytes.len());
            prop_assert!(!request.massaged().is_empty());
        }
    }
}
