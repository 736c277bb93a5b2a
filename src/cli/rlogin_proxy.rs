//! `ork rlogin-proxy`: the RLOGIN application proxy (SPEC §11) — the flags are final, the proxy
//! itself lands with its own issue.

use super::args::{parse_host_port, parse_listen, HostPort, Listen};

/// Run the RLOGIN proxy (protocol 1): log in as `user@server` without revealing the local user.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  ork rlogin-proxy --listen 5513 --onion-proxy 127.0.0.1:9050
  rlogin -p 5513 -l alice@server.example.org 127.0.0.1")]
#[allow(dead_code)] // read once the RLOGIN proxy lands (it is not built yet)
pub struct Args {
    /// Address to listen on for rlogin clients: [HOST:]PORT (513 needs root).
    #[arg(long, value_name = "[HOST:]PORT", default_value = "5513", value_parser = parse_listen)]
    pub listen: Listen,
    /// The onion proxy to open anonymous connections through.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9050", value_parser = parse_host_port)]
    pub onion_proxy: HostPort,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    log::debug!("{args:?}");
    Err(super::not_built("rlogin-proxy"))
}
