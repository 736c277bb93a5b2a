//! Target `socks`: the SOCKS proxy (docs/socks.md) — its parsers ([`parse_greeting`],
//! [`parse_auth`], [`parse_request5`], [`parse_socks4`]) and a whole [`SocksSession`] driven by a
//! script.
//!
//! Input: a mode byte (mod 5: 0–3 one parser on the rest, 4 a session script, see `session.rs`).
//!
//! Checked: a message accepted is accepted the same from exactly its own bytes and needs its
//! last byte; "need more" never holds past the longest message; a request's host passes the
//! standard structure's host check and a CONNECT never has port 0; the session keeps the proxy
//! contract and opens at most one connection, protocol 4 or 5.

use crate::proxy::socks::{parse_auth, parse_greeting, parse_request5, parse_socks4, Command, SocksSession};
use crate::wire::standard::{Host, Protocol};

use super::session::Driver;
use super::Input;

/// Longest message of any kind: a SOCKS4a request (8 + 256 + 256).
const MESSAGE_LIMIT: usize = 520;

type Parser<T> = fn(&[u8]) -> Result<Option<(T, usize)>, crate::proxy::socks::SocksError>;

fn check<T: PartialEq + std::fmt::Debug + Clone>(parse: Parser<T>, buf: &[u8]) -> Option<T> {
    match parse(buf) {
        Ok(Some((v, used))) => {
            assert!(used <= buf.len() && used <= MESSAGE_LIMIT, "used {used}");
            assert_eq!(parse(&buf[..used]), Ok(Some((v.clone(), used))));
            assert_eq!(parse(&buf[..used - 1]), Ok(None), "accepted without its last byte");
            Some(v)
        }
        Ok(None) => {
            assert!(buf.len() < MESSAGE_LIMIT, "asks for more after {} bytes", buf.len());
            None
        }
        Err(e) => {
            let _ = (e.to_string(), e.reply5());
            None
        }
    }
}

pub fn socks(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.u8() % 5;
    let rest = input.rest();
    match mode {
        0 => {
            if let Some(methods) = check(parse_greeting, rest) {
                assert!(!methods.is_empty());
            }
        }
        1 => {
            let _ = check(parse_auth, rest);
        }
        2 | 3 => {
            let parse = if mode == 2 { parse_request5 } else { parse_socks4 };
            if let Some(req) = check(parse, rest) {
                assert_ne!(req.command, Command::ResolvePtr, "reverse lookups are refused");
                assert!(req.command != Command::Connect || req.port != 0, "CONNECT to port 0");
                let text = req.host.to_string();
                assert_eq!(Host::parse(text.as_bytes()), Some(req.host.clone()), "{text}");
            }
        }
        _ => {
            let mut script = Input::new(rest);
            let d = Driver::run(SocksSession::new(), &mut script);
            if let Some(s) = d.structure(0) {
                assert!(matches!(s.protocol, Protocol::Tcp | Protocol::Resolve), "{s:?}");
            }
            for id in 1..4 {
                assert!(d.structure(id).is_none(), "a second connection");
            }
        }
    }
}
