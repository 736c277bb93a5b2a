//! `ork smtp-proxy`: the SMTP application proxy with its privacy filter (protocol.md §11).

use anyhow::Context;
use ork::net::{Reactor, ReactorConfig};
use ork::proxy::driver::ProxyCore;
use ork::proxy::{SmtpConfig, SmtpSession};

use super::allow_from::AllowFrom;
use super::args::{parse_duration, parse_host_port, parse_listen, HostPort, Listen};
use super::ConfigError;

/// Run the SMTP proxy (protocol 3): mail to `user%host@proxy` goes anonymously to `user@host`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  ork smtp-proxy --listen 2525 --onion-proxy 127.0.0.1:9050
  swaks --server 127.0.0.1:2525 --to 'alice%mail.example.org@proxy'")]
pub struct Args {
    /// Address to listen on for mail clients: [HOST:]PORT.
    #[arg(long, value_name = "[HOST:]PORT", default_value = "2525", value_parser = parse_listen)]
    pub listen: Listen,
    /// The onion proxy to open anonymous connections through.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9050", value_parser = parse_host_port)]
    pub onion_proxy: HostPort,
    #[command(flatten)]
    pub allow: AllowFrom,
    /// The proxy's own name in its greeting and in `anonymous@NAME` (default: /etc/hostname).
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Port of the destination mail servers.
    #[arg(long, value_name = "PORT", default_value_t = 25)]
    pub smtp_port: u16,
    /// Keep non-identifying headers (Subject, Date, MIME-*, Content-*) instead of deleting all.
    #[arg(long)]
    pub keep_headers: bool,
    /// Pass MAIL FROM and all headers through unchanged.
    #[arg(long)]
    pub no_filter: bool,
    /// Close a session with no command (or server reply) for this long (RFC 5321: 5 minutes).
    #[arg(long, value_name = "DURATION", default_value = "5min", value_parser = parse_duration)]
    pub idle_timeout: std::time::Duration,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let op = args.onion_proxy.resolve_v4().map_err(ConfigError::msg)?;
    let hostname = match &args.hostname {
        Some(h) => h.clone(),
        None => std::fs::read_to_string("/etc/hostname").map(|s| s.trim().to_string()).unwrap_or_default(),
    };
    let hostname = if hostname.is_empty() { "localhost".to_string() } else { hostname };
    let mut config = SmtpConfig::new(hostname);
    config.port = args.smtp_port;
    config.filter = !args.no_filter;
    config.keep_headers = args.keep_headers;
    config.idle_timeout = args.idle_timeout;
    let core =
        ProxyCore::new("smtp-proxy", op.into(), move || SmtpSession::new(config.clone())).allow_from(args.allow.list());
    serve(&args.listen, core, "smtp-proxy")
}

/// Bind, then run `core` on the reactor until SIGINT/SIGTERM.
fn serve<C: ork::event::Core>(listen: &Listen, core: C, what: &str) -> anyhow::Result<()> {
    let bind = listen.bind_addr();
    let listener = std::net::TcpListener::bind(bind).with_context(|| format!("cannot listen on {bind}"))?;
    log::info!("{what} listening on {bind}");
    Reactor::new(core, vec![listener], ReactorConfig::default())?.run()?;
    Ok(())
}
