//! `ork http-proxy`: the HTTP application proxy with its privacy filter (SPEC §11) — the flags
//! are final, the proxy itself lands with its own issue.

use super::args::{parse_host_port, parse_listen, HostPort, Listen};

/// Run the HTTP proxy (protocol 2; CONNECT tunnels as protocol 4).
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  ork http-proxy --listen 8118 --onion-proxy 127.0.0.1:9050
  curl -x http://127.0.0.1:8118 http://example.org/")]
#[allow(dead_code)] // read once the HTTP proxy lands (it is not built yet)
pub struct Args {
    /// Address to listen on for HTTP clients: [HOST:]PORT.
    #[arg(long, value_name = "[HOST:]PORT", default_value = "8118", value_parser = parse_listen)]
    pub listen: Listen,
    /// The onion proxy to open anonymous connections through.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9050", value_parser = parse_host_port)]
    pub onion_proxy: HostPort,
    /// Pass identifying headers (Cookie, Referer, User-Agent, ...) through unchanged.
    #[arg(long)]
    pub no_filter: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    log::debug!("{args:?}");
    Err(super::not_built("http-proxy"))
}
