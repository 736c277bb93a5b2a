//! `ork rlogin-proxy`: the RLOGIN application proxy (protocol.md §11).

use anyhow::Context;
use ork::net::{Reactor, ReactorConfig};
use ork::proxy::driver::ProxyCore;
use ork::proxy::RloginSession;

use super::allow_from::AllowFrom;
use super::args::{parse_host_port, parse_listen, HostPort, Listen};
use super::ConfigError;

/// Run the RLOGIN proxy (protocol 1): log in as `user@server` without revealing the local user.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  ork rlogin-proxy --listen 5513 --onion-proxy 127.0.0.1:9050
  rlogin -p 5513 -l alice@server.example.org 127.0.0.1")]
pub struct Args {
    /// Address to listen on for rlogin clients: [HOST:]PORT (513 needs root).
    #[arg(long, value_name = "[HOST:]PORT", default_value = "5513", value_parser = parse_listen)]
    pub listen: Listen,
    /// The onion proxy to open anonymous connections through.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9050", value_parser = parse_host_port)]
    pub onion_proxy: HostPort,
    #[command(flatten)]
    pub allow: AllowFrom,
    /// Port of the destination rlogin servers (513; another for testbeds).
    #[arg(long, value_name = "PORT", default_value_t = ork::proxy::RLOGIN_PORT)]
    pub rlogin_port: u16,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let op = args.onion_proxy.resolve_v4().map_err(ConfigError::msg)?;
    let port = args.rlogin_port;
    let core =
        ProxyCore::new("rlogin-proxy", op.into(), move || RloginSession::new(port)).allow_from(args.allow.list());
    serve(&args.listen, core, "rlogin-proxy")
}

/// Bind, then run `core` on the reactor until SIGINT/SIGTERM.
fn serve<C: ork::event::Core>(listen: &Listen, core: C, what: &str) -> anyhow::Result<()> {
    let bind = listen.bind_addr();
    let listener = std::net::TcpListener::bind(bind).with_context(|| format!("cannot listen on {bind}"))?;
    log::info!("{what} listening on {bind}");
    Reactor::new(core, vec![listener], ReactorConfig::default())?.run()?;
    Ok(())
}
