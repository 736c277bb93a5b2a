//! Target `standard_structure`: [`StandardStructure::parse`] (protocol.md §7), which the exit funnel
//! runs on every prefix of a connection's first bytes, and [`Host::parse`].
//!
//! Input: the bytes (a structure, possibly followed by data).
//!
//! Checked: a parsed structure re-encodes to bytes that parse to the same structure; the parse
//! is incremental (every shorter prefix of an accepted structure asks for more, and one more
//! byte never changes a verdict already reached); "need more" never holds for more than
//! `MAX_STANDARD_LEN` bytes; a parsed host prints to text that parses to the same host. The
//! bytes after a structure go through the exit's rlogin preamble check (a complete preamble is
//! at most `MAX_PREAMBLE_LEN` bytes, every shorter prefix asks for more, bytes after it change
//! nothing); the input as text goes through the policy-file parser (an accepted policy prints
//! to text that parses to the same policy, and deciding any destination never panics).

use std::net::{IpAddr, Ipv6Addr};

use crate::config::policy::Policy;
use crate::wire::rlogin_preamble::{self, MAX_PREAMBLE_LEN};
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
            preamble(&data[*used..]);
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

    policy(data);

    // The host field alone, up to its first NUL.
    let host = data.split(|&b| b == 0).next().unwrap_or_default();
    if let Some(h) = Host::parse(host) {
        assert!(host.len() <= MAX_HOST_LEN);
        check_host(&h);
    }
}

fn preamble(rest: &[u8]) {
    match rlogin_preamble::check(rest) {
        Ok(Some(n)) => {
            assert!(n <= MAX_PREAMBLE_LEN && n <= rest.len());
            assert_eq!(rlogin_preamble::check(&rest[..n]), Ok(Some(n)));
            for cut in [0, 1, n / 2, n - 1] {
                assert_eq!(rlogin_preamble::check(&rest[..cut.min(n - 1)]), Ok(None), "preamble prefix {cut}");
            }
        }
        Ok(None) => assert!(rest.len() < MAX_PREAMBLE_LEN, "asks for more after {} bytes", rest.len()),
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

fn policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(p) = Policy::parse_str(text, "fuzz") else { return };
    assert_eq!(Policy::parse_str(&p.to_string(), "again").ok().as_ref(), Some(&p), "policy does not round-trip");
    let mapped = IpAddr::V6(Ipv6Addr::from(0xffff_7f00_0001_u128));
    for ip in [IpAddr::from([127, 0, 0, 1]), IpAddr::from([192, 0, 2, 1]), IpAddr::V6(Ipv6Addr::LOCALHOST), mapped] {
        for proto in Protocol::ALL {
            let _ = (p.allows(ip, 513, proto), p.allows_exit(ip, 513, proto));
        }
    }
}

fn check_host(h: &Host) {
    let text = h.to_string();
    assert_eq!(Host::parse(text.as_bytes()).as_ref(), Some(h), "host {text:?} does not round-trip");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_seed_is_a_valid_policy_with_every_rule_form() {
        let seeds = crate::fuzzing::seeds::seeds("standard_structure");
        let (_, text) = seeds.iter().find(|(n, _)| n.contains("policy")).expect("policy seed");
        let p = Policy::parse_str(std::str::from_utf8(text).expect("utf-8"), "seed").expect("parses");
        let shown = p.to_string();
        for form in ["[::ffff:0.0.0.0]/96", "[2001:db8::]/32", "proto=reply", "proto=rlogin", "proto=resolve"] {
            assert!(shown.contains(form), "{form} missing from {shown}");
        }
    }
}
