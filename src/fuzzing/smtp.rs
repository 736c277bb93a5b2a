//! Target `smtp`: the SMTP proxy (protocol.md §11, paper §7.6) — client commands ([`parse_command`]),
//! server replies ([`ReplyReader`]), the message relay with its header filter
//! ([`MessageRelay::feed`]), and a whole [`SmtpSession`] driven by a script.
//!
//! Input: a mode byte (mod 4; bits 2–3 choose the filter: off, delete all headers, keep the
//! non-identifying ones), then
//! - 0: command lines (split at LF);
//! - 1: a fragmentation byte and server bytes;
//! - 2: a fragmentation byte and message bytes after DATA;
//! - 3: a session script (see `session.rs`).
//!
//! Checked: a rewritten recipient is a plain mailbox that cannot break the RCPT line the proxy
//! replays; replies come out whole (every line CRLF-terminated and carrying the reply's code)
//! whatever the fragmentation; the relayed message uses CRLF only, its end-of-data line is its
//! last line (no SMTP smuggling), and fragmentation changes nothing; the session keeps the
//! proxy contract and only ever opens SMTP connections.

use crate::proxy::smtp::command::{parse_command, Command};
use crate::proxy::smtp::message::{HeaderMode, MessageRelay};
use crate::proxy::smtp::reply::{Reply, ReplyError, ReplyReader};
use crate::proxy::{SmtpConfig, SmtpSession};
use crate::wire::standard::Protocol;

use super::session::Driver;
use super::{fragments, Input};

pub fn smtp(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.u8();
    let header_mode = match (mode >> 2) % 3 {
        0 => HeaderMode::KeepAll,
        1 => HeaderMode::DeleteAll,
        _ => HeaderMode::KeepNonIdentifying,
    };
    match mode % 4 {
        0 => commands(input.rest()),
        1 => {
            let pattern = input.u8();
            replies(input.rest(), pattern);
        }
        2 => {
            let pattern = input.u8();
            message(input.rest(), pattern, header_mode);
        }
        _ => {
            let mut config = SmtpConfig::new("proxy.example");
            config.filter = header_mode != HeaderMode::KeepAll;
            config.keep_headers = header_mode == HeaderMode::KeepNonIdentifying;
            let d = Driver::run(SmtpSession::new(config), &mut input);
            for id in 0..4 {
                if let Some(s) = d.structure(id) {
                    assert_eq!((s.protocol, s.port), (Protocol::Smtp, crate::proxy::SMTP_PORT), "{s:?}");
                }
            }
        }
    }
}

fn commands(bytes: &[u8]) {
    for line in bytes.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match parse_command(line) {
            Ok(Command::Rcpt(r)) => {
                let address = r.address();
                let bad = |c: char| c.is_ascii_control() || c.is_whitespace() || "<>".contains(c);
                assert!(!address.contains(bad), "recipient {address:?} would break the replayed RCPT line");
                // Parameters are relayed as the client wrote them; they must not end the line.
                assert!(!r.params.contains(['\r', '\n', '\0']), "params {:?}", r.params);
                assert!(!r.user.is_empty());
            }
            Ok(Command::Helo { line: l, .. } | Command::Mail { line: l }) => assert_eq!(l, line),
            Ok(_) => {}
            Err(e) => {
                let reply = e.reply();
                assert!(reply.ends_with(b"\r\n") && !reply[..reply.len() - 2].contains(&b'\n'));
            }
        }
    }
}

/// Every reply the reader hands out, and the error that stopped it (if any).
fn read_replies<'a>(pieces: impl Iterator<Item = &'a [u8]>) -> (Vec<Reply>, Option<ReplyError>) {
    let mut reader = ReplyReader::default();
    let mut out = Vec::new();
    for piece in pieces {
        reader.push(piece);
        loop {
            match reader.next_reply() {
                Ok(Some(r)) => out.push(r),
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}

fn replies(bytes: &[u8], pattern: u8) {
    let whole = read_replies([bytes].into_iter());
    let split = read_replies(fragments(bytes, pattern, 40));
    assert_eq!(whole, split, "replies depend on fragmentation");
    for r in &whole.0 {
        assert!((200..600).contains(&r.code));
        assert!(r.lines.ends_with(b"\r\n"));
        let code = r.code.to_string();
        for line in r.lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            assert!(line.starts_with(code.as_bytes()) && line.ends_with(b"\r"), "reply line {line:?}");
        }
        let _ = r.is_positive();
    }
}

/// Relay `pieces`: (output, consumed, done).
fn relay_message<'a>(mode: HeaderMode, pieces: impl Iterator<Item = &'a [u8]>) -> (Vec<u8>, usize, bool) {
    let mut m = MessageRelay::new(mode);
    let (mut out, mut used) = (Vec::new(), 0);
    for piece in pieces {
        let n = m.feed(piece, &mut out);
        assert!(n <= piece.len());
        assert!(n == piece.len() || m.is_done(), "stopped early without the end of data");
        used += n;
        if m.is_done() {
            break;
        }
    }
    (out, used, m.is_done())
}

fn message(bytes: &[u8], pattern: u8, mode: HeaderMode) {
    let whole = relay_message(mode, [bytes].into_iter());
    let split = relay_message(mode, fragments(bytes, pattern, 40));
    assert_eq!(whole, split, "message relay depends on fragmentation");
    let (out, used, done) = whole;
    assert!(used <= bytes.len());
    for (i, &b) in out.iter().enumerate() {
        if b == b'\r' {
            assert_eq!(out.get(i + 1), Some(&b'\n'), "bare CR relayed");
        }
        if b == b'\n' {
            assert!(i > 0 && out[i - 1] == b'\r', "bare LF relayed");
        }
    }
    let ends = |o: &[u8]| o == b".\r\n" || o.ends_with(b"\r\n.\r\n");
    let early = out.windows(5).position(|w| w == b"\r\n.\r\n").map(|p| p + 5);
    if done {
        assert!(ends(&out), "message done without the end-of-data line");
        assert!(early.map_or(true, |p| p == out.len()) && !(out.starts_with(b".\r\n") && out.len() > 3));
    } else {
        assert!(early.is_none() && !out.starts_with(b".\r\n"), "end-of-data line relayed mid-message");
        assert_eq!(used, bytes.len());
    }
    if mode == HeaderMode::KeepAll && done {
        // Without the filter only line endings change: the same line count.
        let lines_in = bytes[..used].iter().filter(|&&b| b == b'\n').count();
        assert!(out.iter().filter(|&&b| b == b'\n').count() >= lines_in);
    }
}
