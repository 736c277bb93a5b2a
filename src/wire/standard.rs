//! The standard structure and status byte of protocol.md §7: what an application proxy asks the onion
//! proxy for, and what the exit funnel answers.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Structure version.
pub const STANDARD_VERSION: u8 = 1;
/// The only address format.
pub const ADDRESS_FORMAT: u8 = 1;
/// Longest host.
pub const MAX_HOST_LEN: usize = 255;
/// Longest structure: header, host, NUL, five port digits, NUL.
pub const MAX_STANDARD_LEN: usize = 4 + MAX_HOST_LEN + 1 + 5 + 1;
const HEADER_LEN: usize = 4;

/// Application protocol of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Rlogin = 1,
    Http = 2,
    Smtp = 3,
    /// Generic TCP (SOCKS5, HTTP CONNECT, `ork connect`).
    Tcp = 4,
    /// Resolve a name at the exit without connecting. Policy files name it (`proto=resolve`);
    /// [`Protocol::from_byte`] accepts it only where the exit implements it.
    Resolve = 5,
    /// A reply onion's connection. Policy files name it (`proto=reply`); see `Resolve`.
    Reply = 6,
}

impl Protocol {
    /// The protocol byte of a standard structure.
    pub fn from_byte(b: u8) -> Option<Protocol> {
        match b {
            1 => Some(Protocol::Rlogin),
            2 => Some(Protocol::Http),
            3 => Some(Protocol::Smtp),
            4 => Some(Protocol::Tcp),
            5 => Some(Protocol::Resolve),
            6 => Some(Protocol::Reply),
            _ => None,
        }
    }

    /// The name used in policy files (`proto=`).
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Rlogin => "rlogin",
            Protocol::Http => "http",
            Protocol::Smtp => "smtp",
            Protocol::Tcp => "tcp",
            Protocol::Resolve => "resolve",
            Protocol::Reply => "reply",
        }
    }

    /// Every protocol a policy file can name.
    pub const ALL: [Protocol; 6] =
        [Protocol::Rlogin, Protocol::Http, Protocol::Smtp, Protocol::Tcp, Protocol::Resolve, Protocol::Reply];

    pub fn from_name(s: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.name() == s)
    }
}

/// The status byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Ok = 0,
    BadVersion = 1,
    BadAddressFormat = 2,
    BadAddress = 3,
    BadPort = 4,
    ConnectFailed = 5,
    Policy = 6,
    RouteFailed = 7,
    BadProtocol = 8,
}

impl Status {
    pub fn from_byte(b: u8) -> Option<Status> {
        use Status::*;
        [Ok, BadVersion, BadAddressFormat, BadAddress, BadPort, ConnectFailed, Policy, RouteFailed, BadProtocol]
            .into_iter()
            .find(|s| *s as u8 == b)
    }

    /// What the status means, for logs and application-protocol error messages.
    pub fn meaning(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::BadVersion => "bad standard structure version",
            Status::BadAddressFormat => "bad address format",
            Status::BadAddress => "bad address (unresolvable or malformed host)",
            Status::BadPort => "bad port",
            Status::ConnectFailed => "connection to destination failed",
            Status::Policy => "rejected by policy",
            Status::RouteFailed => "anonymous connection could not be built",
            Status::BadProtocol => "bad protocol",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "status {} ({})", *self as u8, self.meaning())
    }
}

/// A destination host as written in the structure.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    Name(String),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl Host {
    /// Check host syntax: a DNS name, a dotted IPv4 address or a bracketed IPv6 literal.
    pub fn parse(s: &[u8]) -> Option<Host> {
        if s.is_empty() || s.len() > MAX_HOST_LEN || !s.is_ascii() {
            return None;
        }
        let s = std::str::from_utf8(s).ok()?;
        if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            return inner.parse().ok().map(Host::V6);
        }
        if let Ok(ip) = s.parse::<Ipv4Addr>() {
            return Some(Host::V4(ip));
        }
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        let name = s.strip_suffix('.').unwrap_or(s);
        // A name made only of digits and dots that did not parse as IPv4 is malformed.
        if name.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return None;
        }
        name.split('.').all(label_ok).then(|| Host::Name(s.to_string()))
    }
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::V4(a) => write!(f, "{a}"),
            Host::V6(a) => write!(f, "[{a}]"),
        }
    }
}

/// A parsed standard structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandardStructure {
    pub protocol: Protocol,
    /// Connection attempts after the first.
    pub retries: u8,
    pub host: Host,
    /// 1..=65535; exactly 0 for [`Protocol::Resolve`].
    pub port: u16,
}

/// The port field: 1..=65535 in 1–5 digits, except that a resolve has exactly `0`.
fn parse_port(s: &[u8], protocol: Protocol) -> Option<u16> {
    if protocol == Protocol::Resolve {
        return (s == b"0").then_some(0);
    }
    if s.is_empty() || s.len() > 5 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v: u32 = std::str::from_utf8(s).ok()?.parse().ok()?;
    (1..=65535).contains(&v).then_some(v as u16)
}

impl StandardStructure {
    pub fn new(protocol: Protocol, host: Host, port: u16) -> Self {
        StandardStructure { protocol, retries: 0, host, port }
    }

    /// A protocol-5 request: resolve `host` at the exit (port `0`).
    pub fn resolve(host: Host) -> Self {
        StandardStructure::new(Protocol::Resolve, host, 0)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![STANDARD_VERSION, self.protocol as u8, self.retries, ADDRESS_FORMAT];
        out.extend_from_slice(self.host.to_string().as_bytes());
        out.push(0);
        out.extend_from_slice(self.port.to_string().as_bytes());
        out.push(0);
        out
    }

    /// Parse a structure from the start of `buf`, which may hold only part of it.
    ///
    /// `Ok(None)`: more bytes are needed. `Ok(Some((s, n)))`: the structure took `n` bytes and
    /// the rest is data for the destination. `Err(status)`: the first failing check of protocol.md §7,
    /// in its order (version, address format, protocol, host, port).
    pub fn parse(buf: &[u8]) -> Result<Option<(StandardStructure, usize)>, Status> {
        match buf.first() {
            None => return Ok(None),
            Some(&v) if v != STANDARD_VERSION => return Err(Status::BadVersion),
            _ => {}
        }
        if buf.len() < HEADER_LEN {
            return Ok(None);
        }
        if buf[3] != ADDRESS_FORMAT {
            return Err(Status::BadAddressFormat);
        }
        let protocol = Protocol::from_byte(buf[1]).ok_or(Status::BadProtocol)?;
        let retries = buf[2];
        let rest = &buf[HEADER_LEN..];
        let Some(host_end) = rest.iter().take(MAX_HOST_LEN + 1).position(|&b| b == 0) else {
            return if rest.len() > MAX_HOST_LEN { Err(Status::BadAddress) } else { Ok(None) };
        };
        let host = Host::parse(&rest[..host_end]).ok_or(Status::BadAddress)?;
        let rest = &rest[host_end + 1..];
        let Some(port_end) = rest.iter().take(6).position(|&b| b == 0) else {
            return if rest.len() > 5 { Err(Status::BadPort) } else { Ok(None) };
        };
        let port = parse_port(&rest[..port_end], protocol).ok_or(Status::BadPort)?;
        let used = HEADER_LEN + host_end + 1 + port_end + 1;
        Ok(Some((StandardStructure { protocol, retries, host, port }, used)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn raw(v: u8, p: u8, f: u8, host: &[u8], port: &[u8]) -> Vec<u8> {
        let mut b = vec![v, p, 0, f];
        b.extend_from_slice(host);
        b.push(0);
        b.extend_from_slice(port);
        b.push(0);
        b
    }

    #[test]
    fn parses_and_leaves_trailing_data() {
        let mut b = raw(1, 2, 1, b"example.org", b"80");
        let n = b.len();
        b.extend_from_slice(b"GET");
        let (s, used) = StandardStructure::parse(&b).unwrap().unwrap();
        assert_eq!(used, n);
        assert_eq!(s.host, Host::Name("example.org".into()));
        assert_eq!(s.port, 80);
        assert_eq!(s.to_bytes(), &b[..n]);
        for cut in 0..n {
            assert_eq!(StandardStructure::parse(&b[..cut]), Ok(None), "cut {cut}");
        }
    }

    #[test]
    fn checks_run_in_spec_order() {
        assert_eq!(StandardStructure::parse(&raw(2, 9, 9, b"", b"x")), Err(Status::BadVersion));
        assert_eq!(StandardStructure::parse(&raw(1, 9, 9, b"", b"x")), Err(Status::BadAddressFormat));
        assert_eq!(StandardStructure::parse(&raw(1, 9, 1, b"", b"x")), Err(Status::BadProtocol));
        assert_eq!(StandardStructure::parse(&raw(1, 4, 1, b"", b"x")), Err(Status::BadAddress));
        assert_eq!(StandardStructure::parse(&raw(1, 4, 1, b"a b", b"1")), Err(Status::BadAddress));
        assert_eq!(StandardStructure::parse(&raw(1, 4, 1, b"1.2.3.999", b"1")), Err(Status::BadAddress));
        assert_eq!(StandardStructure::parse(&raw(1, 4, 1, b"h", b"0")), Err(Status::BadPort));
        assert_eq!(StandardStructure::parse(&raw(1, 4, 1, b"h", b"65536")), Err(Status::BadPort));
        assert_eq!(StandardStructure::parse(&raw(1, 4, 1, b"h", b"")), Err(Status::BadPort));
        assert_eq!(StandardStructure::parse(&raw(1, 4, 1, b"h", b"123456")), Err(Status::BadPort));
        let (s, _) = StandardStructure::parse(&raw(1, 4, 1, b"[::1]", b"65535")).unwrap().unwrap();
        assert_eq!(s.host, Host::V6(Ipv6Addr::LOCALHOST));
    }

    #[test]
    fn resolve_has_port_zero_and_nothing_else() {
        let b = raw(1, 5, 1, b"example.org", b"0");
        let (s, n) = StandardStructure::parse(&b).unwrap().unwrap();
        assert_eq!((s.protocol, s.port, n), (Protocol::Resolve, 0, b.len()));
        assert_eq!(s.to_bytes(), b);
        assert_eq!(StandardStructure::resolve(s.host.clone()), s);
        for bad in [&b"00"[..], b"80", b"", b"1"] {
            assert_eq!(StandardStructure::parse(&raw(1, 5, 1, b"h", bad)), Err(Status::BadPort), "{bad:?}");
        }
        for p in 1..=4 {
            assert_eq!(StandardStructure::parse(&raw(1, p, 1, b"h", b"0")), Err(Status::BadPort));
        }
    }

    #[test]
    fn unterminated_fields_fail_past_their_maximum() {
        let mut b = vec![1, 4, 0, 1];
        b.extend(std::iter::repeat(b'a').take(MAX_HOST_LEN));
        assert_eq!(StandardStructure::parse(&b), Ok(None));
        b.push(b'a');
        assert_eq!(StandardStructure::parse(&b), Err(Status::BadAddress));
        let mut b = raw(1, 4, 1, b"h", b"");
        b.pop();
        b.extend_from_slice(b"12345");
        assert_eq!(StandardStructure::parse(&b), Ok(None));
        b.push(b'6');
        assert_eq!(StandardStructure::parse(&b), Err(Status::BadPort));
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(Some((s, n))) = StandardStructure::parse(&bytes) {
                prop_assert!(n <= MAX_STANDARD_LEN);
                prop_assert_eq!(StandardStructure::parse(&s.to_bytes()), Ok(Some((s.clone(), s.to_bytes().len()))));
            }
        }

        #[test]
        fn round_trips(host in "[a-z][a-z0-9-]{0,20}[a-z0-9](\\.[a-z]{1,10}){0,3}", port in 1u16.., p in 1u8..=4, retries: u8) {
            let s = StandardStructure { protocol: Protocol::from_byte(p).unwrap(), retries, host: Host::Name(host), port };
            let b = s.to_bytes();
            prop_assert_eq!(StandardStructure::parse(&b), Ok(Some((s, b.len()))));
        }
    }
}
