//! Target `http_head`: the HTTP proxy (protocol.md §11) — request heads ([`parse_request`]), response
//! heads ([`parse_response`]), the field filter they apply, message bodies ([`BodyRelay`]), and
//! a whole [`HttpSession`] driven by a script.
//!
//! Input: a mode byte (mod 4; bit 2 turns the privacy filter on, bit 3 marks a HEAD request),
//! then
//! - 0: a request head; 1: a response head — each followed by anything;
//! - 2: a framing byte (mod 4: empty, length, chunked, until close), a 4-byte length, a
//!   fragmentation byte, and the body;
//! - 3: a session script (see `session.rs`).
//!
//! Checked: an accepted head is accepted the same from exactly its own bytes and its last byte
//! is needed (heads parse incrementally); a rewritten response head holds no bare CR and no
//! folded line (obs-fold is unfolded); the rewritten head is itself a well-formed message
//! head for the destination/client, with `Host` right, no hop-by-hop or proxy fields, and under
//! the filter no identifying fields; bodies relay the same whatever the fragmentation, and the
//! normalized chunked output relays unchanged; the session keeps the proxy contract.

use crate::proxy::http::body::{BodyRelay, Framing};
use crate::proxy::http::filter::{field_name, list_values, Direction, FieldPolicy, GENERIC_USER_AGENT};
use crate::proxy::http::request::{parse_request, MAX_FIELDS};
use crate::proxy::http::response::parse_response;
use crate::proxy::{HttpConfig, HttpSession};
use crate::wire::standard::Protocol;

use super::session::Driver;
use super::{fragments, Input};

/// Fields no rewritten head may carry (hop-by-hop and proxy fields).
const NEVER_FORWARDED: &[&str] = &["keep-alive", "te", "trailer", "upgrade", "proxy-connection", "proxy-authorization"];
/// Request fields the privacy filter removes.
const IDENTIFYING: &[&str] = &["cookie", "from", "referer", "authorization", "forwarded", "x-forwarded-for", "via"];

pub fn http_head(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.u8();
    let filter = mode & 4 != 0;
    let head_method = mode & 8 != 0;
    match mode % 4 {
        0 => request(input.rest(), filter),
        1 => response(input.rest(), filter, head_method),
        2 => body(&mut input, filter),
        _ => {
            let d = Driver::run(HttpSession::new(HttpConfig::filtered(filter)), &mut input);
            for id in 0..4 {
                if let Some(s) = d.structure(id) {
                    assert!(matches!(s.protocol, Protocol::Http | Protocol::Tcp), "{s:?}");
                }
            }
        }
    }
}

fn request(buf: &[u8], filter: bool) {
    let Ok(Some((r, used))) = parse_request(buf, filter) else { return };
    assert!(used <= buf.len());
    assert_eq!(parse_request(&buf[..used], filter), Ok(Some((r.clone(), used))), "not the same from its own bytes");
    assert_eq!(parse_request(&buf[..used - 1], filter), Ok(None), "a prefix of an accepted head is refused");
    if r.connect {
        assert!(r.head.is_empty());
        return;
    }
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS + 2];
    let mut req = httparse::Request::new(&mut fields);
    let n = match req.parse(&r.head) {
        Ok(httparse::Status::Complete(n)) => n,
        other => panic!("rewritten request head does not parse: {other:?}: {:?}", String::from_utf8_lossy(&r.head)),
    };
    assert_eq!(n, r.head.len(), "bytes after the rewritten head");
    assert!(req.path.is_some_and(|p| p.starts_with('/')), "target not in origin form");
    assert_eq!(req.version, Some(r.minor_version));
    let host = format!("{}{}", r.host, if r.port == 80 { String::new() } else { format!(":{}", r.port) });
    let hosts: Vec<&[u8]> =
        req.headers.iter().filter(|h| h.name.eq_ignore_ascii_case("host")).map(|h| h.value).collect();
    assert_eq!(hosts, vec![host.as_bytes()], "Host field");
    for h in req.headers.iter() {
        let name = h.name.to_ascii_lowercase();
        assert!(!NEVER_FORWARDED.contains(&name.as_str()) && !name.starts_with("proxy-"), "{name} forwarded");
        if name == "connection" {
            assert!(r.minor_version == 0 && h.value == b"keep-alive", "Connection forwarded");
        }
        if filter {
            assert!(!IDENTIFYING.contains(&name.as_str()), "{name} forwarded under the filter");
            if name == "user-agent" {
                assert_eq!(h.value, GENERIC_USER_AGENT.as_bytes());
            }
        }
    }
}

fn response(buf: &[u8], filter: bool, head_method: bool) {
    let Ok(Some((r, used))) = parse_response(buf, filter, head_method) else { return };
    assert!(used <= buf.len());
    assert!(matches!(parse_response(&buf[..used - 1], filter, head_method), Ok(None)), "prefix refused");
    let mut head = r.head.clone();
    head.extend_from_slice(b"\r\n");
    // Never a bare CR, never a folded line: the strict parser takes the rewritten head.
    assert!(!crate::proxy::http::line_rules::has_bare_cr(&head), "bare CR relayed to the client");
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS + 2];
    let mut resp = httparse::Response::new(&mut fields);
    let parsed = httparse::ParserConfig::default().parse_response(&mut resp, &head);
    match parsed {
        Ok(httparse::Status::Complete(n)) => assert_eq!(n, head.len()),
        other => panic!("rewritten response head does not parse: {other:?}: {:?}", String::from_utf8_lossy(&head)),
    }
    assert_eq!(resp.code, Some(r.code));
    let named = |n: &str| resp.headers.iter().any(|h| h.name.eq_ignore_ascii_case(n));
    for name in NEVER_FORWARDED.iter().chain(&["connection"]) {
        assert!(!named(name), "{name} relayed to the client");
    }
    if filter {
        assert!(!named("set-cookie") && !named("set-cookie2"), "cookie relayed under the filter");
    }
    if r.framing == Framing::Chunked {
        assert!(!named("content-length"), "Content-Length beside chunked");
    }
    let _ = (r.is_interim(), r.server_keep_alive, r.policy.has_connection_option("close"));
}

fn body(input: &mut Input<'_>, filter: bool) {
    let framing = match input.u8() % 4 {
        0 => Framing::Empty,
        1 => Framing::Length(u64::from(input.u32())),
        2 => Framing::Chunked,
        _ => Framing::UntilClose,
    };
    let pattern = input.u8();
    let bytes = input.rest();
    let trailer_fields = [("Connection", &b"x-drop"[..])];
    let policy = FieldPolicy::new(Direction::Response, filter, trailer_fields.iter().copied());

    let whole = relay(framing, [bytes].into_iter(), &policy);
    let split = relay(framing, fragments(bytes, pattern, 64), &policy);
    assert_eq!(whole, split, "body relay depends on fragmentation");

    let (out, result, done) = whole;
    match framing {
        Framing::Empty => assert!(out.is_empty() && done),
        Framing::Length(n) => {
            let n = usize::try_from(n).unwrap_or(usize::MAX).min(bytes.len());
            assert_eq!(out, bytes[..n]);
        }
        Framing::UntilClose => assert_eq!(out, bytes),
        Framing::Chunked => {
            if done {
                let again = relay(framing, [&out[..]].into_iter(), &policy);
                assert_eq!(again, (out.clone(), Ok(out.len()), true), "normalized chunked body changes");
            }
        }
    }
    if let Ok(used) = result {
        assert!(used <= bytes.len());
    }

    // The field helpers on raw lines.
    for line in bytes.split(|&b| b == b'\n') {
        if let Some(name) = field_name(line) {
            assert!(!name.is_empty() && line.starts_with(name.as_bytes()));
        }
    }
    let lines: Vec<(&str, &[u8])> =
        bytes.split(|&b| b == b'\n').filter_map(|l| field_name(l).map(|n| (n, &l[n.len() + 1..]))).collect();
    let _ = list_values(lines.iter().copied(), |n| n.eq_ignore_ascii_case("connection"));
    let p = FieldPolicy::new(Direction::Request, filter, lines.iter().copied());
    for (name, _) in &lines {
        let _ = p.disposition(name);
    }
}

/// Relay `pieces` through one [`BodyRelay`]: (output, bytes consumed or the error, done).
fn relay<'a>(
    framing: Framing,
    pieces: impl Iterator<Item = &'a [u8]>,
    policy: &FieldPolicy,
) -> (Vec<u8>, Result<usize, crate::proxy::http::body::BodyError>, bool) {
    let mut r = BodyRelay::new(framing);
    let mut out = Vec::new();
    let mut used = 0;
    for piece in pieces {
        if r.is_done() {
            break;
        }
        match r.feed(piece, &mut out, policy) {
            Ok(n) => {
                assert!(n <= piece.len());
                assert!(n == piece.len() || r.is_done(), "stopped early without finishing");
                used += n;
            }
            Err(e) => return (out, Err(e), false),
        }
    }
    let _ = r.until_close();
    (out, Ok(used), r.is_done())
}
