//! Target `rlogin`: the rlogin proxy (protocol.md §11, paper §7.4) — the client's request
//! ([`RloginRequest::parse`]) and a whole [`RloginSession`] driven by a script.
//!
//! Input: a mode byte (even: a request followed by anything; odd: a session script, see
//! `session.rs`).
//!
//! Checked: an accepted request is accepted the same from exactly its own bytes and needs its
//! last byte; "need more" never holds past the request limit; the request the server gets is
//! `\0user\0user\0term\0` with the client's user name gone; the session keeps the proxy
//! contract and opens exactly one rlogin connection.

use crate::proxy::{RloginRequest, RloginSession, RLOGIN_PORT};
use crate::wire::standard::Protocol;

use super::session::Driver;
use super::Input;

/// `REQUEST_LIMIT` of `proxy/rlogin.rs`.
const REQUEST_LIMIT: usize = 1024;

pub fn rlogin(data: &[u8]) {
    let mut input = Input::new(data);
    if input.u8() % 2 == 0 {
        return request(input.rest());
    }
    let d = Driver::run(RloginSession::new(RLOGIN_PORT), &mut input);
    if let Some(s) = d.structure(0) {
        assert_eq!((s.protocol, s.port), (Protocol::Rlogin, RLOGIN_PORT));
    }
    for id in 1..4 {
        assert!(d.structure(id).is_none(), "a second connection");
    }
}

fn request(buf: &[u8]) {
    match RloginRequest::parse(buf) {
        Ok(Some((r, used))) => {
            assert!(used <= buf.len() && used <= REQUEST_LIMIT);
            assert_eq!(RloginRequest::parse(&buf[..used]), Ok(Some((r.clone(), used))));
            assert_eq!(RloginRequest::parse(&buf[..used - 1]), Ok(None));
            let m = r.massaged();
            let fields: Vec<&[u8]> = m.split(|&b| b == 0).collect();
            assert_eq!(fields.len(), 5, "{m:?}");
            assert!(fields[0].is_empty() && fields[4].is_empty());
            assert_eq!(fields[1], r.user.as_bytes());
            assert_eq!(fields[2], r.user.as_bytes());
            assert_eq!(fields[3], r.terminal.as_bytes());
            assert!(!r.user.is_empty());
        }
        Ok(None) => assert!(buf.len() <= REQUEST_LIMIT, "asks for more after {} bytes", buf.len()),
        Err(e) => {
            let _ = e.to_string();
        }
    }
}
