//! One rule of a policy file (protocol.md §10): `accept|reject ADDR[/BITS][:PORT[-PORT]]
//! [proto=rlogin|http|smtp|tcp|resolve|reply]`, with `*` for any address or port and IPv6
//! addresses in brackets (`[fc00::]/7:80`) — its syntax and what it matches.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::RangeInclusive;

use crate::wire::Protocol;

/// What a matching rule decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Accept,
    Reject,
}

/// The addresses a rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrPattern {
    /// `*`: every IPv4 and IPv6 address.
    Any,
    V4 {
        net: Ipv4Addr,
        bits: u8,
    },
    V6 {
        net: Ipv6Addr,
        bits: u8,
    },
}

/// One line of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub action: Action,
    pub addr: AddrPattern,
    pub ports: RangeInclusive<u16>,
    /// `None`: every protocol.
    pub proto: Option<Protocol>,
}

pub(super) const ANY_PORT: RangeInclusive<u16> = 0..=u16::MAX;

impl Rule {
    pub(super) fn any(action: Action, addr: AddrPattern) -> Rule {
        Rule { action, addr, ports: ANY_PORT, proto: None }
    }

    /// Whether this rule covers the destination. An IPv4-mapped IPv6 address
    /// (`::ffff:a.b.c.d`) is covered both by IPv6 rules (as itself, so `[::ffff:0:0]/96`
    /// matches it) and by IPv4 rules (as `a.b.c.d`, so it cannot slip past `127.0.0.0/8`).
    pub fn matches(&self, ip: IpAddr, port: u16, proto: Protocol) -> bool {
        self.covers(ip) && self.ports.contains(&port) && self.proto.map_or(true, |p| p == proto)
    }

    /// Whether the rule's address part covers `ip`.
    pub fn covers(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (AddrPattern::Any, _) => true,
            (AddrPattern::V4 { net, bits }, IpAddr::V4(ip)) => {
                prefix_eq(u32::from(net).into(), u32::from(ip).into(), 32, bits)
            }
            (AddrPattern::V4 { .. }, IpAddr::V6(v6)) => v6.to_ipv4_mapped().is_some_and(|v4| self.covers(v4.into())),
            (AddrPattern::V6 { net, bits }, IpAddr::V6(ip)) => prefix_eq(net.into(), ip.into(), 128, bits),
            (AddrPattern::V6 { .. }, IpAddr::V4(_)) => false,
        }
    }
}

/// The rule in policy-file syntax.
impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let action = if self.action == Action::Accept { "accept" } else { "reject" };
        match self.addr {
            AddrPattern::Any => write!(f, "{action} *")?,
            AddrPattern::V4 { net, bits } => write!(f, "{action} {net}/{bits}")?,
            AddrPattern::V6 { net, bits } => write!(f, "{action} [{net}]/{bits}")?,
        }
        match (*self.ports.start(), *self.ports.end()) {
            (0, u16::MAX) => write!(f, ":*")?,
            (lo, hi) if lo == hi => write!(f, ":{lo}")?,
            (lo, hi) => write!(f, ":{lo}-{hi}")?,
        }
        match self.proto {
            Some(p) => write!(f, " proto={}", p.name()),
            None => Ok(()),
        }
    }
}

/// Whether the top `bits` of two `width`-bit numbers agree.
fn prefix_eq(a: u128, b: u128, width: u32, bits: u8) -> bool {
    let shift = width.saturating_sub(u32::from(bits));
    a.checked_shr(shift).unwrap_or(0) == b.checked_shr(shift).unwrap_or(0)
}

pub(super) fn parse_rule(words: &[&str]) -> Result<Rule, String> {
    let usage = "expected accept|reject ADDR[/BITS][:PORT[-PORT]] [proto=rlogin|http|smtp|tcp|resolve|reply]";
    let (action, target, proto) = match words {
        [action, target] => (action, target, None),
        [action, target, proto] => (action, target, Some(proto)),
        _ => return Err(usage.into()),
    };
    let action = match *action {
        "accept" => Action::Accept,
        "reject" => Action::Reject,
        other => return Err(format!("unknown action {other:?}: {usage}")),
    };
    let proto = match proto {
        None => None,
        Some(word) => {
            let name = word.strip_prefix("proto=").ok_or_else(|| format!("unexpected {word:?}: {usage}"))?;
            Some(
                Protocol::from_name(name)
                    .ok_or_else(|| format!("unknown protocol {name:?} (rlogin, http, smtp, tcp, resolve or reply)"))?,
            )
        }
    };
    let (addr, ports) = parse_target(target)?;
    Ok(Rule { action, addr, ports, proto })
}

/// `ADDR[/BITS][:PORT[-PORT]]`, ADDR `*`, dotted IPv4 or bracketed IPv6 (bits after or inside
/// the brackets).
fn parse_target(target: &str) -> Result<(AddrPattern, RangeInclusive<u16>), String> {
    let (addr, rest) = match target.strip_prefix('[') {
        Some(inner) => inner.split_once(']').ok_or_else(|| format!("missing ] in {target:?}"))?,
        None => target.split_at(target.find([':', '/']).unwrap_or(target.len())),
    };
    let (addr, inner_bits) = match addr.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (addr, None),
    };
    let (outer_bits, ports) = match rest.strip_prefix('/') {
        Some(r) => match r.split_once(':') {
            Some((b, p)) => (Some(b), Some(p)),
            None => (Some(r), None),
        },
        None if rest.is_empty() => (None, None),
        None => match rest.strip_prefix(':') {
            Some(p) => (None, Some(p)),
            None => return Err(format!("unexpected {rest:?} after the address in {target:?}")),
        },
    };
    let prefix = match (inner_bits, outer_bits) {
        (Some(_), Some(_)) => return Err(format!("two prefix lengths in {target:?}")),
        (p, None) | (None, p) => p,
    };
    let bits = |max: u8| -> Result<u8, String> {
        let Some(p) = prefix else { return Ok(max) };
        match p.parse::<u8>() {
            Ok(n) if n <= max && p.bytes().all(|c| c.is_ascii_digit()) => Ok(n),
            _ => Err(format!("bad prefix length {p:?} in {target:?} (0..={max})")),
        }
    };
    let pattern = if addr == "*" {
        if prefix.is_some() {
            return Err(format!("* takes no prefix length in {target:?}"));
        }
        AddrPattern::Any
    } else if target.starts_with('[') {
        let net: Ipv6Addr = addr.parse().map_err(|_| format!("bad IPv6 address {addr:?} in {target:?}"))?;
        let bits = bits(128)?;
        check_host_bits(net.into(), 128, bits, target)?;
        AddrPattern::V6 { net, bits }
    } else {
        let bad = || format!("bad address {addr:?} in {target:?} (IPv4, [IPv6] or *)");
        let net: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        let bits = bits(32)?;
        check_host_bits(u32::from(net).into(), 32, bits, target)?;
        AddrPattern::V4 { net, bits }
    };
    Ok((pattern, parse_ports(ports.unwrap_or("*"), target)?))
}

/// Refuse `10.1.0.0/8`-style prefixes with bits set below the prefix (probably a typo).
fn check_host_bits(net: u128, width: u32, bits: u8, target: &str) -> Result<(), String> {
    let host_bits = width - u32::from(bits);
    let host = if host_bits >= 128 { net } else { net & ((1u128 << host_bits) - 1) };
    if host != 0 {
        return Err(format!("{target:?} has bits set below its /{bits} prefix"));
    }
    Ok(())
}

fn parse_ports(spec: &str, target: &str) -> Result<RangeInclusive<u16>, String> {
    if spec == "*" {
        return Ok(ANY_PORT);
    }
    let port = |p: &str| match p.parse::<u16>() {
        Ok(n) if n != 0 && p.bytes().all(|c| c.is_ascii_digit()) => Ok(n),
        _ => Err(format!("bad port {p:?} in {target:?} (1..=65535 or *)")),
    };
    let (lo, hi) = match spec.split_once('-') {
        Some((lo, hi)) => (port(lo)?, port(hi)?),
        None => (port(spec)?, port(spec)?),
    };
    if lo > hi {
        return Err(format!("empty port range {spec:?} in {target:?}"));
    }
    Ok(lo..=hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(line: &str) -> Result<Rule, String> {
        parse_rule(&line.split_whitespace().collect::<Vec<_>>())
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn targets_in_every_spelling() {
        let any = Rule::any(Action::Accept, AddrPattern::Any);
        assert_eq!(rule("accept *"), Ok(any.clone()));
        assert_eq!(rule("accept *:*"), Ok(any));
        assert_eq!(rule("reject 1.2.3.4/32:80").unwrap().ports, 80..=80);
        let lo6 = AddrPattern::V6 { net: Ipv6Addr::LOCALHOST, bits: 128 };
        assert_eq!(rule("accept [::1]").unwrap().addr, lo6);
        assert_eq!(rule("accept [fe80::/10]:1-2").unwrap().addr, rule("accept [fe80::]/10:*").unwrap().addr);
        let r = rule("accept 0.0.0.0/0:7 proto=rlogin").unwrap();
        assert!(r.matches(ip("255.1.1.1"), 7, Protocol::Rlogin));
        assert!(!r.matches(ip("255.1.1.1"), 7, Protocol::Http));
        assert!(!r.matches(ip("::1"), 7, Protocol::Rlogin)); // an IPv4 rule never matches IPv6...
        assert!(r.matches(ip("::ffff:1.2.3.4"), 7, Protocol::Rlogin)); // ...but the IPv4 it maps
        let mapped = rule("reject [::ffff:0:0]/96").unwrap();
        assert!(mapped.matches(ip("::ffff:8.8.8.8"), 80, Protocol::Http));
        assert!(!mapped.matches(ip("8.8.8.8"), 80, Protocol::Http));
        let ula = rule("accept [fc00::]/7:80 proto=http").unwrap();
        assert!(ula.matches(ip("fd12::1"), 80, Protocol::Http) && !ula.matches(ip("fe80::1"), 80, Protocol::Http));
        for p in Protocol::ALL {
            let r = rule(&format!("accept * proto={}", p.name())).unwrap();
            assert!(r.matches(ip("1.2.3.4"), 1, p) && r.to_string().ends_with(p.name()));
        }
        assert_eq!(r.to_string(), "accept 0.0.0.0/0:7 proto=rlogin");
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        assert!(rule("allow *:*").unwrap_err().starts_with("unknown action \"allow\""));
        assert!(rule("accept").unwrap_err().starts_with("expected accept|reject"));
        assert!(rule("accept *:* proto=ftp").unwrap_err().contains("unknown protocol \"ftp\""));
        assert!(rule("accept *:* http").unwrap_err().contains("unexpected \"http\""));
        for bad in [
            "1.2.3",
            "1.2.3.4/33",
            "10.1.0.0/8",
            "*/8",
            "[::1",
            "[::1]x",
            "::1",
            "[::1]/129",
            "1.2.3.4:0",
            "1.2.3.4:90-80",
            "1.2.3.4:x",
            "1.2.3.4:+80",
            "[1.2.3.4]",
            "[::1/1]/1",
            "1.2.3.4/+8",
            "1.2.3.4:80:81",
        ] {
            let e = rule(&format!("reject {bad}")).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
    }
}
