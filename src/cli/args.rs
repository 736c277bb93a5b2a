//! Value types and parsers shared by the subcommands' flags: `[HOST:]PORT`, `HOST:PORT`,
//! `HOST:PORT=KEY-PATH`, humantime durations and cipher names (protocol.md §14).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use ork::crypto::CipherCode;

/// `--listen [HOST:]PORT`: an optional IP address and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    /// `None` when only a port was given.
    pub host: Option<IpAddr>,
    pub port: u16,
}

impl Listen {
    /// Where to bind: the given host, else 127.0.0.1 (docs/decisions.md).
    pub fn bind_addr(&self) -> SocketAddr {
        SocketAddr::new(self.host.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)), self.port)
    }
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.bind_addr())
    }
}

/// Parse `PORT`, `IPv4:PORT` or `[IPv6]:PORT`.
pub fn parse_listen(s: &str) -> Result<Listen, String> {
    if let Ok(port) = s.parse::<u16>() {
        return Ok(Listen { host: None, port });
    }
    let addr: SocketAddr = s
        .parse()
        .map_err(|_| format!("'{s}' is not [HOST:]PORT with HOST an IP address, e.g. 9001 or 0.0.0.0:9001"))?;
    Ok(Listen { host: Some(addr.ip()), port: addr.port() })
}

/// `HOST:PORT` where HOST is a name, an IPv4 address or a bracketed IPv6 address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    pub host: String,
    pub port: u16,
}

impl HostPort {
    /// The first IPv4 address of the host (routers are IPv4, protocol.md §14); names are resolved.
    pub fn resolve_v4(&self) -> Result<SocketAddrV4, String> {
        if let Ok(ip) = self.host.parse::<Ipv4Addr>() {
            return Ok(SocketAddrV4::new(ip, self.port));
        }
        let addrs =
            (self.host.as_str(), self.port).to_socket_addrs().map_err(|e| format!("cannot resolve {self}: {e}"))?;
        addrs
            .filter_map(|a| match a {
                SocketAddr::V4(v4) => Some(v4),
                SocketAddr::V6(_) => None,
            })
            .next()
            .ok_or_else(|| format!("{self} has no IPv4 address"))
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Parse `HOST:PORT` (port 1..=65535).
pub fn parse_host_port(s: &str) -> Result<HostPort, String> {
    let bad = || format!("'{s}' is not HOST:PORT (e.g. 127.0.0.1:9050)");
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) if v6.parse::<std::net::Ipv6Addr>().is_ok() => v6,
        Some(_) => return Err(bad()),
        None if host.is_empty() || host.contains(':') => return Err(bad()),
        None => host,
    };
    let port = port.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(bad)?;
    Ok(HostPort { host: host.to_string(), port })
}

/// `HOST:PORT=KEY-PATH`: a router (or funnel) and the path of its public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HopSpec {
    pub addr: HostPort,
    pub key: PathBuf,
}

impl fmt::Display for HopSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.addr, self.key.display())
    }
}

/// Parse `HOST:PORT=KEY-PATH` (split at the first `=`; the path may contain more).
pub fn parse_hop(s: &str) -> Result<HopSpec, String> {
    let (addr, key) =
        s.split_once('=').ok_or_else(|| format!("'{s}' is not HOST:PORT=PUBLIC-KEY (e.g. 127.0.0.1:9001=r1.pub)"))?;
    if key.is_empty() {
        return Err(format!("'{s}' names no public key file after '='"));
    }
    Ok(HopSpec { addr: parse_host_port(addr)?, key: PathBuf::from(key) })
}

/// Parse a humantime duration (`10ms`, `60s`, `1h`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("'{s}' is not a duration like 10ms, 60s or 1h: {e}"))
}

/// Parse a cipher name or function code (protocol.md §4.3).
pub fn parse_cipher(s: &str) -> Result<CipherCode, String> {
    CipherCode::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = CipherCode::ALL.iter().map(|c| c.name()).collect();
        format!(
            "unknown cipher '{s}'; use one of {} (or its code 0-4; none = identity, des = des-ofb)",
            names.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_forms() {
        assert_eq!(parse_listen("9001"), Ok(Listen { host: None, port: 9001 }));
        assert_eq!(parse_listen("0.0.0.0:9001").map(|l| l.bind_addr().to_string()), Ok("0.0.0.0:9001".into()));
        assert_eq!(parse_listen("[::1]:9001").map(|l| l.port), Ok(9001));
        assert_eq!(parse_listen("9001").map(|l| l.to_string()), Ok("127.0.0.1:9001".into()));
        assert!(parse_listen("localhost:9001").is_err());
        assert!(parse_listen("70000").is_err());
    }

    #[test]
    fn host_port_forms() {
        let hp = parse_host_port("example.org:80").unwrap();
        assert_eq!((hp.host.as_str(), hp.port), ("example.org", 80));
        assert_eq!(parse_host_port("[::1]:25").unwrap().to_string(), "[::1]:25");
        for bad in ["", "host", ":80", "host:0", "host:x", "::1:80", "[nope]:80"] {
            assert!(parse_host_port(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_host_port("127.0.0.1:9001").unwrap().resolve_v4(), Ok("127.0.0.1:9001".parse().unwrap()));
    }

    #[test]
    fn hop_splits_at_first_equals() {
        let h = parse_hop("127.0.0.1:9001=keys/a=b.pub").unwrap();
        assert_eq!(h.key, PathBuf::from("keys/a=b.pub"));
        assert_eq!(h.to_string(), "127.0.0.1:9001=keys/a=b.pub");
        assert!(parse_hop("127.0.0.1:9001").is_err());
        assert!(parse_hop("127.0.0.1:9001=").is_err());
    }

    #[test]
    fn durations_and_ciphers() {
        assert_eq!(parse_duration("10ms"), Ok(Duration::from_millis(10)));
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_cipher("aes-128-ctr"), Ok(CipherCode::Aes128Ctr));
        assert_eq!(parse_cipher("2"), Ok(CipherCode::Rc4));
        assert!(parse_cipher("blowfish").unwrap_err().contains("chacha20"));
    }
}
