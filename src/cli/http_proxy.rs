//! `ork http-proxy`: the HTTP application proxy with its privacy filter (protocol.md §11).

use anyhow::Context;
use ork::net::{Reactor, ReactorConfig};
use ork::proxy::driver::ProxyCore;
use ork::proxy::{HttpConfig, HttpSession};

use super::allow_from::AllowFrom;
use super::args::{parse_duration, parse_host_port, parse_listen, HostPort, Listen};
use super::ConfigError;

/// Run the HTTP proxy (protocol 2; CONNECT tunnels as protocol 4).
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  ork http-proxy --listen 8118 --onion-proxy 127.0.0.1:9050
  curl -x http://127.0.0.1:8118 http://example.org/")]
pub struct Args {
    /// Address to listen on for HTTP clients: [HOST:]PORT.
    #[arg(long, value_name = "[HOST:]PORT", default_value = "8118", value_parser = parse_listen)]
    pub listen: Listen,
    /// The onion proxy to open anonymous connections through.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9050", value_parser = parse_host_port)]
    pub onion_proxy: HostPort,
    #[command(flatten)]
    pub allow: AllowFrom,
    /// Pass identifying headers (Cookie, Referer, User-Agent, ...) through unchanged.
    #[arg(long)]
    pub no_filter: bool,
    /// Close a keep-alive client that sends no new request for this long.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub idle_timeout: std::time::Duration,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let op = args.onion_proxy.resolve_v4().map_err(ConfigError::msg)?;
    let config = HttpConfig { filter: !args.no_filter, idle_timeout: args.idle_timeout };
    if args.no_filter {
        log::warn!("--no-filter: identifying headers (Cookie, Referer, User-Agent, ...) pass through");
    }
    let core =
        ProxyCore::new("http-proxy", op.into(), move || HttpSession::new(config.clone())).allow_from(args.allow.list());
    serve(&args.listen, core, "http-proxy")
}

/// Bind, then run `core` on the reactor until SIGINT/SIGTERM.
pub(super) fn serve<C: ork::event::Core>(listen: &Listen, core: C, what: &str) -> anyhow::Result<()> {
    let bind = listen.bind_addr();
    let listener = std::net::TcpListener::bind(bind).with_context(|| format!("cannot listen on {bind}"))?;
    log::info!("{what} listening on {bind}");
    Reactor::new(core, vec![listener], ReactorConfig::default())?.run()?;
    Ok(())
}
