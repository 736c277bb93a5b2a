//! Target `standard_structure`: [`StandardStructure::parse`] (protocol.md §7), which the exit funnel
//! runs on every prefix of a connection's first bytes, and [`Host::parse`].
//!
//! Input: the bytes (a structure, possibly followed by data).
//!
//! Checked: a parsed structure re-encodes to bytes that parse to the same structure; the parse
//! is incremental (every shorter prefix of an accepted structure asks for more, and one more
//! byte never changes a verdict already reached); "need more" never holds for more than
//! `MAX_STANDARD_LEN` bytes; a parsed host prints to text that parses to the same host.

use crate::wire::standard::{Host, Protocol, StandardStructure, Status, MAX_HOST_LEN, MAX_STANDARD_LEN};

pub fn standard_structure(data: &[u8]) {
    let result = StandardStructure::parse(data);
    match &result {
        Ok(Some((s, used))) => {
            assert!(*used <= data.len() && *used <= MAX_STANDARD_LEN);
            let bytes = s.to_bytes();
            assert_eq!(StandardStructure::parse(&bytes), Ok(Some((s.clone(), bytes.len()))), "re-encoding differs");
            assert_eq!(StandardStructure::parse(&data[..*used]), Ok(Some((s.clone(), *used))));
            for cut in [0, 1, 3, 4, used / 2, used - 1] {
                assert_eq!(StandardStructure::parse(&data[..cut.min(used - 1)]), Ok(None), "prefix {cut}");
            }
            assert_eq!(Protocol::from_byte(s.protocol as u8), Some(s.protocol));
            assert_eq!(Protocol::from_name(s.protocol.name()), Some(s.protocol));
            check_host(&s.host);
        }
        Ok(None) => assert!(data.len() < MAX_STANDARD_LEN, "asks for more after {} bytes", data.len()),
        Err(status) => {
            assert_ne!(*status, Status::Ok);
            assert_eq!(Status::from_byte(*status as u8), Some(*status));
            let _ = status.to_string();
        }
    }
    if let Some((_, shorter)) = data.split_last() {
        let before = StandardStructure::parse(shorter);
        if before != Ok(None) {
            assert_eq!(result, before, "one more byte changed a verdict");
        }
    }

    // The host field alone, up to its first NUL.
    let host = data.split(|&b| b == 0).next().unwrap_or_default();
    if let Some(h) = Host::parse(host) {
        assert!(host.len() <= MAX_HOST_LEN);
        check_host(&h);
    }
}

fn check_host(h: &Host) {
    let text = h.to_string();
    assert_eq!(Host::parse(text.as_bytes()).as_ref(), Some(h), "host {text:?} does not round-trip");
}
