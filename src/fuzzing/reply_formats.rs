//! Target `reply_formats`: the reply onion's own parsers — the users' `REPLY` line and file
//! ([`ReplyLine::parse`], [`take_first_unused`]), the owner's record ([`Record::parse`]) and the
//! 45-byte body ([`unframe`]).
//!
//! Input: byte 0 picks the parser; the rest is its input (as lossy UTF-8 for the text formats).
//!
//! Checked: a parsed line or record prints to text that parses to the same value; taking a line
//! marks exactly that line and a second take never returns it again; a body is accepted exactly
//! when its Length is at most 44, and yields Length bytes.

use crate::reply::body::{unframe, Body};
use crate::reply::line::{take_first_unused, ReplyLine, USED_PREFIX};
use crate::reply::record::Record;
use crate::wire::cell::{BODY_LEN, PAYLOAD_LEN};

use super::Input;

pub fn reply_formats(data: &[u8]) {
    let mut input = Input::new(data);
    let which = input.u8();
    let rest = input.rest();
    let text = String::from_utf8_lossy(rest);
    match which % 4 {
        0 => {
            if let Ok(line) = ReplyLine::parse(&text) {
                assert_eq!(ReplyLine::parse(&line.to_string()).as_ref(), Ok(&line), "line re-encoding differs");
            }
        }
        1 => {
            if let Ok(Some(t)) = take_first_unused(&text) {
                let (n, marked) = (t.line_no, t.marked);
                let marked_line = marked.lines().nth(n - 1).expect("the taken line is still there");
                assert!(marked_line.starts_with(USED_PREFIX), "taken line not marked");
                assert_eq!(marked.lines().count(), text.lines().count());
                if let Ok(Some(again)) = take_first_unused(&marked) {
                    assert!(again.line_no > n, "line {n} taken twice");
                }
            }
        }
        2 => {
            if let Ok(r) = Record::parse(&text) {
                assert_eq!(Record::parse(&r.to_text()).as_ref(), Ok(&r), "record re-encoding differs");
            }
        }
        _ => {
            let mut body: Body = [0; BODY_LEN];
            let n = rest.len().min(BODY_LEN);
            body[..n].copy_from_slice(&rest[..n]);
            match unframe(&body) {
                Ok(d) => assert_eq!(d.len(), usize::from(body[0])),
                Err(_) => assert!(usize::from(body[0]) > PAYLOAD_LEN),
            }
        }
    }
}
