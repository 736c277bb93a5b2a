//! `ork connect`: a netcat-like client that relays stdin/stdout over one anonymous connection.
//! Standard input goes out optimistically, right behind the standard structure, without waiting
//! for the status byte (protocol.md §7); a non-zero status still ends the command with an error.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::Context;
use ork::wire::standard::Host;
use ork::wire::{Protocol, StandardStructure, Status};

use super::args::{parse_duration, parse_host_port, HostPort};
use super::ConfigError;

/// Open an anonymous connection to HOST PORT and relay it to stdin and stdout.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  printf 'GET / HTTP/1.0\\r\\n\\r\\n' | ork connect --onion-proxy 127.0.0.1:9050 example.org 80")]
pub struct Args {
    /// The onion proxy to open the anonymous connection through.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9050", value_parser = parse_host_port)]
    pub onion_proxy: HostPort,
    /// Destination host: a name, an IPv4 address or a bracketed IPv6 address.
    #[arg(value_name = "HOST", required_unless_present = "reply_onion")]
    pub host: Option<String>,
    /// Destination port.
    #[arg(value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..), required_unless_present = "reply_onion")]
    pub port: Option<u16>,
    /// Longest wait for the connection's set-up: reaching the onion proxy and its answer (an
    /// established connection may then stay idle for as long as it likes).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,
    #[command(flatten)]
    pub reply: super::connect_reply::ReplyArgs,
}

/// Crypts bytes in place on their way (the end-to-end layer of a reply onion; nothing for
/// ordinary connections).
pub type Crypt = Box<dyn FnMut(&mut [u8]) + Send>;

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.reply.reply_onion.is_some() {
        return super::connect_reply::run(&args);
    }
    let (Some(host_text), Some(port)) = (&args.host, args.port) else {
        return Err(ConfigError::msg("give HOST PORT or --reply-onion FILE"));
    };
    let host = Host::parse(host_text.as_bytes())
        .ok_or_else(|| ConfigError::msg(format!("'{host_text}' is not a host name or IP address")))?;
    let structure = StandardStructure::new(Protocol::Tcp, host, port);
    relay(&args, &structure.to_bytes(), &format!("{host_text}:{port}"), Box::new(|_| {}), Box::new(|_| {})).map_err(
        |e| match e {
            Refused::Status(s) => anyhow::anyhow!("{host_text}:{port}: {s}"),
            Refused::Other(e) => e,
        },
    )
}

/// Why [`relay`] failed.
pub enum Refused {
    /// The onion proxy (or the exit) answered this non-zero status.
    Status(Status),
    Other(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for Refused {
    fn from(e: E) -> Self {
        Refused::Other(e.into())
    }
}

/// Send `head` to the onion proxy, then stdin (through `up`) optimistically; read the status,
/// then relay the connection (through `down`) to stdout until it ends.
pub fn relay(args: &Args, head: &[u8], what: &str, mut up: Crypt, mut down: Crypt) -> Result<(), Refused> {
    let proxy = args.onion_proxy.to_string();
    if args.timeout.is_zero() {
        return Err(Refused::Other(ConfigError::msg("--timeout must be more than 0s")));
    }
    let cannot_reach = || format!("cannot reach the onion proxy at {proxy}");
    let addr =
        proxy.to_socket_addrs().with_context(cannot_reach)?.next().ok_or_else(|| anyhow::anyhow!(cannot_reach()))?;
    let mut stream = TcpStream::connect_timeout(&addr, args.timeout).with_context(cannot_reach)?;
    stream.set_read_timeout(Some(args.timeout))?;
    stream.set_write_timeout(Some(args.timeout))?;
    stream.write_all(head)?;
    // stdin → connection (then half-close) starts at once: optimistic data.
    let mut upstream = stream.try_clone()?;
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        let mut stdin = std::io::stdin().lock();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match stdin.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            up(&mut buf[..n]);
            upstream.write_all(&buf[..n])?;
        }
        upstream.shutdown(Shutdown::Write)
    });
    let mut status = [0u8; 1];
    match stream.read_exact(&mut status) {
        Ok(()) => {}
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
            return Err(Refused::Other(anyhow::anyhow!(
                "no answer from {proxy} within {} (--timeout): is it an onion proxy, and are its routers up?",
                humantime::format_duration(args.timeout)
            )))
        }
        Err(e) => return Err(Refused::Other(anyhow::Error::new(e).context("the onion proxy closed before answering"))),
    }
    match Status::from_byte(status[0]) {
        Some(Status::Ok) => {}
        Some(s) => return Err(Refused::Status(s)),
        None => {
            let guess = super::peer_guess::not_an_onion_proxy(&proxy, status[0], &mut stream);
            return Err(Refused::Other(anyhow::anyhow!("{guess}")));
        }
    }
    log::debug!("connected to {what}");
    // Set-up is done: the connection may now be idle for as long as both ends like.
    stream.set_read_timeout(None)?;
    stream.set_write_timeout(None)?;
    // connection → stdout, until the destination finishes.
    // Flushed after every read: stdout is line-buffered, and binary protocols (ssh's key
    // exchange after its banner line) would stall in the buffer.
    let mut out = std::io::stdout().lock();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Refused::Other(anyhow::Error::new(e).context("reading from the anonymous connection")))
            }
        };
        down(&mut buf[..n]);
        out.write_all(&buf[..n])?;
        out.flush()?;
    }
    drop(out);
    // The destination finished: done, even if stdin is still open (like `nc -N`).
    if writer.is_finished() {
        match writer.join() {
            Ok(r) => r.context("writing to the anonymous connection")?,
            Err(_) => return Err(Refused::Other(anyhow::anyhow!("stdin copier failed"))),
        }
    }
    Ok(())
}
