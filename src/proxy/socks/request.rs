//! SOCKS wire formats, parsed without panicking from bytes that may be incomplete: the SOCKS5
//! greeting (RFC 1928 §3), username/password subnegotiation (RFC 1929), the SOCKS5 request with
//! Tor's RESOLVE (0xF0) and RESOLVE_PTR (0xF1) commands, and SOCKS4/4a requests; and the replies.
//!
//! Each `parse_*` returns `Ok(None)` while more bytes are needed, `Ok(Some((value, used)))` once
//! complete, and a [`SocksError`] (which knows its reply code) for bytes no client may send.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::wire::standard::{Host, Status};
use crate::wire::{Reader, Truncated};

/// SOCKS versions (first byte of every client message but RFC 1929's).
pub const SOCKS4: u8 = 4;
pub const SOCKS5: u8 = 5;
/// RFC 1929 subnegotiation version.
pub const AUTH_VERSION: u8 = 1;

/// RFC 1928 §3 methods.
pub mod method {
    pub const NO_AUTH: u8 = 0x00;
    pub const USER_PASS: u8 = 0x02;
    pub const NONE_ACCEPTABLE: u8 = 0xFF;
}

/// RFC 1928 §4 commands and Tor's extensions.
pub mod cmd {
    pub const CONNECT: u8 = 0x01;
    pub const BIND: u8 = 0x02;
    pub const UDP_ASSOCIATE: u8 = 0x03;
    pub const RESOLVE: u8 = 0xF0;
    pub const RESOLVE_PTR: u8 = 0xF1;
}

/// RFC 1928 §4 address types.
pub mod atyp {
    pub const IPV4: u8 = 0x01;
    pub const DOMAIN: u8 = 0x03;
    pub const IPV6: u8 = 0x04;
}

/// RFC 1928 §6 reply codes.
pub mod rep {
    pub const SUCCEEDED: u8 = 0x00;
    pub const GENERAL_FAILURE: u8 = 0x01;
    pub const NOT_ALLOWED: u8 = 0x02;
    pub const HOST_UNREACHABLE: u8 = 0x04;
    pub const CONNECTION_REFUSED: u8 = 0x05;
    pub const COMMAND_NOT_SUPPORTED: u8 = 0x07;
    pub const ADDRESS_TYPE_NOT_SUPPORTED: u8 = 0x08;
}

/// SOCKS4 reply codes.
pub const SOCKS4_GRANTED: u8 = 0x5A;
pub const SOCKS4_REJECTED: u8 = 0x5B;

/// Longest SOCKS4 user id or SOCKS4a host name we read (with its NUL).
const SOCKS4_FIELD_LIMIT: usize = 256;

/// Bytes no SOCKS client may send, each with the reply it gets (if any) before the close.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SocksError {
    #[error("unknown SOCKS version {0:#04x}")]
    UnknownVersion(u8),
    #[error("SOCKS5 greeting offers no methods")]
    NoMethods,
    #[error("no acceptable authentication method (offered {0:02x?})")]
    NoAcceptableMethod(Vec<u8>),
    #[error("bad RFC 1929 subnegotiation version {0:#04x}")]
    BadAuthVersion(u8),
    #[error("bad version {0:#04x} in the SOCKS5 request")]
    BadRequestVersion(u8),
    #[error("unsupported command {0:#04x} (BIND and UDP ASSOCIATE are not offered)")]
    UnsupportedCommand(u8),
    #[error("unknown address type {0:#04x}")]
    UnknownAddressType(u8),
    #[error("empty host name")]
    EmptyName,
    #[error("bad host name {0:?}")]
    BadName(String),
    #[error("port 0")]
    PortZero,
    #[error("SOCKS4 user id or host name longer than {SOCKS4_FIELD_LIMIT} bytes")]
    Socks4FieldTooLong,
    #[error("reverse lookups (RESOLVE_PTR) are not offered: the exit resolves names to addresses only")]
    NoReverseLookup,
}

impl SocksError {
    /// The SOCKS5 reply code for a request refused this way.
    pub fn reply5(&self) -> u8 {
        match self {
            SocksError::UnsupportedCommand(_) => rep::COMMAND_NOT_SUPPORTED,
            SocksError::UnknownAddressType(_) => rep::ADDRESS_TYPE_NOT_SUPPORTED,
            SocksError::EmptyName | SocksError::BadName(_) | SocksError::NoReverseLookup => rep::HOST_UNREACHABLE,
            _ => rep::GENERAL_FAILURE,
        }
    }
}

/// The SOCKS5 reply for a status byte (protocol.md §7).
pub fn status_reply5(status: Status) -> u8 {
    match status {
        Status::Ok => rep::SUCCEEDED,
        Status::BadAddress => rep::HOST_UNREACHABLE,
        Status::ConnectFailed => rep::CONNECTION_REFUSED,
        Status::Policy => rep::NOT_ALLOWED,
        Status::BadVersion | Status::BadAddressFormat | Status::BadPort | Status::RouteFailed | Status::BadProtocol => {
            rep::GENERAL_FAILURE
        }
    }
}

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Connect,
    /// Tor's RESOLVE: a name to an address, through the exit (protocol 5).
    Resolve,
    /// Tor's RESOLVE_PTR: refused (protocol 5 has no reverse lookups).
    ResolvePtr,
}

/// A complete SOCKS request (either version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub command: Command,
    pub host: Host,
    pub port: u16,
    /// SOCKS4 user id (an isolation key when not empty); empty for SOCKS5.
    pub user: Vec<u8>,
}

type Parsed<T> = Result<Option<(T, usize)>, SocksError>;

/// Run `f` on a reader over `buf`: `Truncated` means more bytes are needed.
fn read<T>(buf: &[u8], f: impl FnOnce(&mut Reader) -> Result<Result<T, SocksError>, Truncated>) -> Parsed<T> {
    let mut r = Reader::new(buf);
    match f(&mut r) {
        Err(Truncated { .. }) => Ok(None),
        Ok(Err(e)) => Err(e),
        Ok(Ok(v)) => Ok(Some((v, buf.len() - r.remaining()))),
    }
}

/// SOCKS5 greeting: `05 NMETHODS METHODS...`; the methods offered.
pub fn parse_greeting(buf: &[u8]) -> Parsed<Vec<u8>> {
    read(buf, |r| {
        let v = r.u8()?;
        if v != SOCKS5 {
            return Ok(Err(SocksError::UnknownVersion(v)));
        }
        let n = r.u8()?;
        if n == 0 {
            return Ok(Err(SocksError::NoMethods));
        }
        Ok(Ok(r.take(usize::from(n))?.to_vec()))
    })
}

/// RFC 1929: `01 ULEN UNAME PLEN PASSWD`; the user name and password.
pub fn parse_auth(buf: &[u8]) -> Parsed<(Vec<u8>, Vec<u8>)> {
    read(buf, |r| {
        let v = r.u8()?;
        if v != AUTH_VERSION {
            return Ok(Err(SocksError::BadAuthVersion(v)));
        }
        let ulen = r.u8()?;
        let user = r.take(usize::from(ulen))?.to_vec();
        let plen = r.u8()?;
        let pass = r.take(usize::from(plen))?.to_vec();
        Ok(Ok((user, pass)))
    })
}

/// A host name as a client wrote it, checked as the standard structure will check it.
fn name_host(name: &[u8]) -> Result<Host, SocksError> {
    if name.is_empty() {
        return Err(SocksError::EmptyName);
    }
    Host::parse(name).ok_or_else(|| SocksError::BadName(String::from_utf8_lossy(name).into_owned()))
}

fn command(c: u8) -> Result<Command, SocksError> {
    match c {
        cmd::CONNECT => Ok(Command::Connect),
        cmd::RESOLVE => Ok(Command::Resolve),
        cmd::RESOLVE_PTR => Ok(Command::ResolvePtr),
        other => Err(SocksError::UnsupportedCommand(other)),
    }
}

/// SOCKS5 request: `05 CMD 00 ATYP DST.ADDR DST.PORT`. An unsupported command is refused as
/// soon as its byte is read.
pub fn parse_request5(buf: &[u8]) -> Parsed<Request> {
    read(buf, |r| {
        let v = r.u8()?;
        if v != SOCKS5 {
            return Ok(Err(SocksError::BadRequestVersion(v)));
        }
        let command = match command(r.u8()?) {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        let _reserved = r.u8()?;
        let host = match r.u8()? {
            atyp::IPV4 => Ok(Host::V4(Ipv4Addr::from(r.array::<4>()?))),
            atyp::IPV6 => Ok(Host::V6(Ipv6Addr::from(r.array::<16>()?))),
            atyp::DOMAIN => {
                let n = r.u8()?;
                name_host(r.take(usize::from(n))?)
            }
            other => Err(SocksError::UnknownAddressType(other)),
        };
        let host = match host {
            Ok(h) => h,
            Err(e) => return Ok(Err(e)),
        };
        let port = r.u16()?;
        Ok(check(Request { command, host, port, user: Vec::new() }))
    })
}

/// A port of 0 can only be a resolve's; a reverse lookup is refused outright.
fn check(req: Request) -> Result<Request, SocksError> {
    match req.command {
        Command::Connect if req.port == 0 => Err(SocksError::PortZero),
        Command::ResolvePtr => Err(SocksError::NoReverseLookup),
        _ => Ok(req),
    }
}

/// A NUL-terminated SOCKS4 field of at most [`SOCKS4_FIELD_LIMIT`] bytes.
fn nul_field<'a>(r: &mut Reader<'a>) -> Result<Result<&'a [u8], SocksError>, Truncated> {
    let rest = r.rest();
    match rest.iter().take(SOCKS4_FIELD_LIMIT).position(|&b| b == 0) {
        Some(end) => {
            *r = Reader::new(&rest[end + 1..]);
            Ok(Ok(&rest[..end]))
        }
        None if rest.len() >= SOCKS4_FIELD_LIMIT => Ok(Err(SocksError::Socks4FieldTooLong)),
        None => Err(Truncated { needed: 1 }),
    }
}

/// SOCKS4: `04 CMD PORT IPV4 USERID 00`, and SOCKS4a (IPv4 0.0.0.x, x ≠ 0) with `HOST 00`
/// after the user id.
pub fn parse_socks4(buf: &[u8]) -> Parsed<Request> {
    read(buf, |r| {
        let v = r.u8()?;
        if v != SOCKS4 {
            return Ok(Err(SocksError::UnknownVersion(v)));
        }
        let command = match command(r.u8()?) {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        let port = r.u16()?;
        let ip = Ipv4Addr::from(r.array::<4>()?);
        let user = match nul_field(r)? {
            Ok(u) => u.to_vec(),
            Err(e) => return Ok(Err(e)),
        };
        let [a, b, c, d] = ip.octets();
        let host = if a == 0 && b == 0 && c == 0 && d != 0 {
            match nul_field(r)?.and_then(name_host) {
                Ok(h) => h,
                Err(e) => return Ok(Err(e)),
            }
        } else {
            Host::V4(ip)
        };
        Ok(check(Request { command, host, port, user }))
    })
}

/// SOCKS5 reply `05 REP 00 ATYP BND.ADDR BND.PORT`; `bound` is the resolved address of a RESOLVE
/// (0.0.0.0:0 otherwise: the exit's own address is not told).
pub fn reply5(code: u8, bound: Option<IpAddr>) -> Vec<u8> {
    let mut out = vec![SOCKS5, code, 0];
    match bound.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)) {
        IpAddr::V4(a) => {
            out.push(atyp::IPV4);
            out.extend_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            out.push(atyp::IPV6);
            out.extend_from_slice(&a.octets());
        }
    }
    out.extend_from_slice(&[0, 0]);
    out
}

/// SOCKS4 reply `00 CD PORT IPV4` (the address of a RESOLVE, else zeros).
pub fn reply4(granted: bool, bound: Option<Ipv4Addr>) -> Vec<u8> {
    let mut out = vec![0, if granted { SOCKS4_GRANTED } else { SOCKS4_REJECTED }, 0, 0];
    out.extend_from_slice(&bound.unwrap_or(Ipv4Addr::UNSPECIFIED).octets());
    out
}
