//! `ork smtp-proxy`: the SMTP application proxy with its privacy filter (SPEC §11) — the flags
//! are final, the proxy itself lands with its own issue.

use super::args::{parse_host_port, parse_listen, HostPort, Listen};

/// Run the SMTP proxy (protocol 3): mail to `user%host@proxy` goes anonymously to `user@host`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  ork smtp-proxy --listen 2525 --onion-proxy 127.0.0.1:9050
  swaks --server 127.0.0.1:2525 --to 'alice%mail.example.org@proxy'")]
#[allow(dead_code)] // read once the SMTP proxy lands (it is not built yet)
pub struct Args {
    /// Address to listen on for mail clients: [HOST:]PORT.
    #[arg(long, value_name = "[HOST:]PORT", default_value = "2525", value_parser = parse_listen)]
    pub listen: Listen,
    /// The onion proxy to open anonymous connections through.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9050", value_parser = parse_host_port)]
    pub onion_proxy: HostPort,
    /// Port of the destination mail servers.
    #[arg(long, value_name = "PORT", default_value_t = 25)]
    pub smtp_port: u16,
    /// Keep non-identifying headers (Subject, Date, MIME-*, Content-*) instead of deleting all.
    #[arg(long)]
    pub keep_headers: bool,
    /// Pass MAIL FROM and all headers through unchanged.
    #[arg(long)]
    pub no_filter: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    log::debug!("{args:?}");
    Err(super::not_built("smtp-proxy"))
}
