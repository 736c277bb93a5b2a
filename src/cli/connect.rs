//! `ork connect`: a netcat-like client that relays stdin/stdout over one anonymous connection
//! (protocol 4, SPEC §7, §14) — the arguments are final, the client lands with its own issue.

use super::args::{parse_host_port, HostPort};

/// Open an anonymous connection to HOST PORT and relay it to stdin and stdout.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  printf 'GET / HTTP/1.0\\r\\n\\r\\n' | ork connect --onion-proxy 127.0.0.1:9050 example.org 80")]
#[allow(dead_code)] // read once `ork connect` lands (it is not built yet)
pub struct Args {
    /// The onion proxy to open the anonymous connection through.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9050", value_parser = parse_host_port)]
    pub onion_proxy: HostPort,
    /// Destination host: a name, an IPv4 address or a bracketed IPv6 address.
    #[arg(value_name = "HOST")]
    pub host: String,
    /// Destination port.
    #[arg(value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    log::debug!("{args:?}");
    Err(super::not_built("connect"))
}
