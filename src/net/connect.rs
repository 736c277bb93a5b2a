//! Opening outgoing TCP connections without blocking, optionally from a privileged source port
//! (512..=1023, as rlogind requires of its clients).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use socket2::{Domain, Protocol, Socket, Type};

/// Lowest and highest privileged source ports rlogin accepts.
pub const PRIVILEGED_PORTS: std::ops::RangeInclusive<u16> = 512..=1023;

/// Start a non-blocking connect to `addr`. With `privileged`, bind a free source port in
/// 512..=1023 first (needs root or CAP_NET_BIND_SERVICE).
pub fn start_connect(addr: SocketAddr, privileged: bool) -> io::Result<mio::net::TcpStream> {
    if !privileged {
        return mio::net::TcpStream::connect(addr);
    }
    let domain = Domain::for_address(addr);
    let any: IpAddr = if addr.is_ipv4() { Ipv4Addr::UNSPECIFIED.into() } else { Ipv6Addr::UNSPECIFIED.into() };
    let mut last = io::Error::new(io::ErrorKind::AddrInUse, "no free privileged source port");
    for port in PRIVILEGED_PORTS.rev() {
        let sock = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
        match sock.bind(&SocketAddr::new(any, port).into()) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Err(e),
            Err(e) => {
                last = e;
                continue;
            }
        }
        sock.set_nonblocking(true)?;
        match sock.connect(&addr.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) if e.kind() == io::ErrorKind::AddrNotAvailable || e.kind() == io::ErrorKind::AddrInUse => {
                last = e;
                continue;
            }
            Err(e) => return Err(e),
        }
        let std_stream: std::net::TcpStream = sock.into();
        return Ok(mio::net::TcpStream::from_std(std_stream));
    }
    Err(last)
}
