//! `ork socks-proxy`: the SOCKS4/4a/5 front end (protocol 4, and protocol 5 for RESOLVE).

use ork::proxy::driver::ProxyCore;
use ork::proxy::SocksSession;

use super::allow_from::AllowFrom;
use super::args::{parse_host_port, parse_listen, HostPort, Listen};
use super::ConfigError;

/// Run the SOCKS proxy: SOCKS5 (RFC 1928, RFC 1929 credentials as isolation keys), SOCKS4/4a and
/// Tor's RESOLVE; names are resolved by the exit funnel, never here.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  ork socks-proxy --listen 1080 --onion-proxy 127.0.0.1:9050
  curl --socks5-hostname 127.0.0.1:1080 http://example.org/
  curl --socks5-hostname 127.0.0.1:1080 --proxy-user site-a:x http://example.org/   (own route)
  ssh -o ProxyCommand='nc -X 5 -x 127.0.0.1:1080 %h %p' user@host.example")]
pub struct Args {
    /// Address to listen on for SOCKS clients: [HOST:]PORT.
    #[arg(long, value_name = "[HOST:]PORT", default_value = "1080", value_parser = parse_listen)]
    pub listen: Listen,
    /// The onion proxy to open anonymous connections through.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9050", value_parser = parse_host_port)]
    pub onion_proxy: HostPort,
    #[command(flatten)]
    pub allow: AllowFrom,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let op = args.onion_proxy.resolve_v4().map_err(ConfigError::msg)?;
    let core = ProxyCore::new("socks-proxy", op.into(), SocksSession::new).allow_from(args.allow.list());
    super::http_proxy::serve(&args.listen, core, "socks-proxy")
}
