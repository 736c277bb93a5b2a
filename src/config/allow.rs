//! `--allow-from CIDR`: which source networks may use a proxy (the onion proxy and every
//! application proxy), loopback by default, so that a proxy bound to a network address is not an
//! open proxy.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The default: 127.0.0.0/8 and ::1.
pub const LOOPBACK: [(IpAddr, u8); 2] =
    [(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)), 8), (IpAddr::V6(Ipv6Addr::LOCALHOST), 128)];

/// Whether `ip` lies in `net`/`bits` (IPv4-mapped IPv6 peers count as their IPv4 address).
pub fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let m = if bits == 0 { 0 } else { u32::MAX << (32 - bits.min(32)) };
            u32::from(a) & m == u32::from(n) & m
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let m = if bits == 0 { 0 } else { u128::MAX << (128 - bits.min(128)) };
            u128::from(a) & m == u128::from(n) & m
        }
        _ => false,
    }
}

/// Parse `ADDRESS[/BITS]` (no bits: one host).
pub fn parse_cidr(s: &str) -> Result<(IpAddr, u8), String> {
    let bad = || format!("'{s}' is not ADDRESS/BITS (e.g. 127.0.0.0/8)");
    let (a, bits) = s.split_once('/').unwrap_or((s, if s.contains(':') { "128" } else { "32" }));
    let ip: IpAddr = a.parse().map_err(|_| bad())?;
    let bits: u8 = bits.parse().map_err(|_| bad())?;
    if bits > if ip.is_ipv4() { 32 } else { 128 } {
        return Err(bad());
    }
    Ok((ip, bits))
}

/// The networks a proxy accepts clients from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowList(pub Vec<(IpAddr, u8)>);

impl AllowList {
    /// Loopback only.
    pub fn loopback() -> AllowList {
        AllowList(LOOPBACK.to_vec())
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|(n, b)| in_net(ip, *n, *b))
    }
}

impl Default for AllowList {
    fn default() -> Self {
        AllowList::loopback()
    }
}

impl fmt::Display for AllowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nets: Vec<String> = self.0.iter().map(|(n, b)| format!("{n}/{b}")).collect();
        f.write_str(&nets.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn loopback_default_and_cidrs() {
        let l = AllowList::default();
        assert!(l.allows(ip("127.0.0.2")) && l.allows(ip("::1")) && l.allows(ip("::ffff:127.0.0.1")));
        assert!(!l.allows(ip("10.0.0.1")) && !l.allows(ip("::2")));
        let one = AllowList(vec![parse_cidr("127.0.0.1/32").unwrap()]);
        assert!(one.allows(ip("127.0.0.1")) && !one.allows(ip("127.0.0.2")));
        assert_eq!(parse_cidr("10.0.0.1"), Ok((ip("10.0.0.1"), 32)));
        assert_eq!(parse_cidr("::/0"), Ok((ip("::"), 0)));
        assert!(AllowList(vec![parse_cidr("0.0.0.0/0").unwrap()]).allows(ip("8.8.8.8")));
        for bad in ["", "1.2.3.4/33", "::1/129", "host/8", "1.2.3.4/x"] {
            assert!(parse_cidr(bad).is_err(), "{bad}");
        }
        assert_eq!(l.to_string(), "127.0.0.0/8, ::1/128");
    }
}
