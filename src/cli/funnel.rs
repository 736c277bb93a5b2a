//! `ork funnel`: the stand-alone entry funnel of the customer–ISP configuration (protocol.md §8) — the

use std::path::PathBuf;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use ork::client::funnel::Funnel;
use ork::crypto::key_file::{load_private_key_file, OpenKey};
use ork::crypto::rsa_block::load_public_key;
use ork::event::Now;
use ork::net::{Reactor, ReactorConfig};

use super::args::{parse_host_port, parse_listen, HostPort, Listen};
use super::{ConfigContext, ConfigError};

/// Run a stand-alone entry funnel: multiplex onion proxies over one link to a router.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  ork funnel --listen 9060 --key funnel.key --router 10.0.0.1:9001 --router-key r1.pub

Onion proxies then use it with --via HOST:9060=funnel.pub.")]
pub struct Args {
    /// Address to listen on for onion proxies: [HOST:]PORT.
    #[arg(long, value_name = "[HOST:]PORT", default_value = "9060", value_parser = parse_listen)]
    pub listen: Listen,
    /// The router to multiplex onto.
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_host_port)]
    pub router: HostPort,
    /// The router's public key.
    #[arg(long, value_name = "PUB")]
    pub router_key: PathBuf,
    /// The funnel's own private key (it signs STS message 2 for its clients).
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// Accept a private key file that group or others can access (refused by default, as ssh
    /// does).
    #[arg(long)]
    pub allow_open_key: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let open = if args.allow_open_key { OpenKey::Allow } else { OpenKey::Refuse };
    let key = load_private_key_file(&args.key, open).config()?;
    let router_key = load_public_key(&args.router_key).config()?;
    let router = args.router.resolve_v4().map_err(ConfigError::msg)?;
    let bind = args.listen.bind_addr();
    let listener = std::net::TcpListener::bind(bind).with_context(|| format!("cannot listen on {bind}"))?;
    log::info!("funnel listening on {bind}, multiplexing onto {router}");
    let core = Funnel::new(Arc::new(key), SocketAddr::V4(router), router_key, Now::system());
    Reactor::new(core, vec![listener], ReactorConfig::default())?.run()?;
    Ok(())
}
