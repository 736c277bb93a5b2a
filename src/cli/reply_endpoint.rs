//! `ork onion-proxy --reply-listen [HOST:]PORT --reply-to HOST:PORT`: the owner's reply endpoint
//! (protocol.md §15), run beside the onion proxy on its own event loop. The records `ork mkonion
//! reply` wrote are read from `--state-dir`.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;

use anyhow::Context;
use ork::client::reply_endpoint::ReplyEndpoint;
use ork::net::reply_store::DirStore;
use ork::net::{Reactor, ReactorConfig};

use super::args::{parse_host_port, parse_listen, HostPort, Listen};
use super::ConfigError;

/// The reply endpoint's flags.
#[derive(Debug, clap::Args)]
pub struct ReplyEndpointArgs {
    /// Accept reply connections from the last routers of this owner's reply onions here:
    /// [HOST:]PORT (the flag alone: port 9070). Needs --reply-to and --state-dir.
    #[arg(long, value_name = "[HOST:]PORT", num_args = 0..=1, default_missing_value = "9070",
          value_parser = parse_listen, requires_all = ["reply_to", "state_dir"])]
    pub reply_listen: Option<Listen>,
    /// The local service reply connections are relayed to.
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_host_port, requires = "reply_listen")]
    pub reply_to: Option<HostPort>,
}

/// Start the endpoint on its own thread when asked for; the thread ends with the process.
pub fn start(args: &ReplyEndpointArgs, state_dir: Option<&Path>) -> anyhow::Result<()> {
    let (Some(listen), Some(to), Some(dir)) = (&args.reply_listen, &args.reply_to, state_dir) else {
        return Ok(());
    };
    let service: SocketAddr = to
        .to_string()
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| ConfigError::msg(format!("--reply-to {to}: cannot resolve")))?;
    if !dir.is_dir() {
        return Err(ConfigError::msg(format!(
            "--state-dir {}: no such directory (the records `ork mkonion reply --state-dir` wrote)",
            dir.display()
        )));
    }
    let bind = listen.bind_addr();
    let listener = std::net::TcpListener::bind(bind).with_context(|| format!("cannot listen on {bind}"))?;
    log::info!("reply endpoint listening on {bind}, relaying to {service}, records in {}", dir.display());
    let core = ReplyEndpoint::new(service, DirStore::new(dir));
    let reactor = Reactor::new(core, vec![listener], ReactorConfig::default())?;
    std::thread::Builder::new().name("reply-endpoint".into()).spawn(move || {
        if let Err(e) = reactor.run() {
            log::error!("reply endpoint stopped: {e}");
        }
    })?;
    Ok(())
}
