//! `ork onion-proxy`: builds anonymous connections for application proxies (protocol.md §7, §8) — the

use std::path::PathBuf;
use std::time::Duration;

use ork::crypto::CipherCode;

use std::net::{IpAddr, SocketAddr};

use anyhow::Context;
use ork::client::{OnionProxy, OnionProxyConfig};
use ork::config::allow::parse_cidr;
use ork::config::network::Network;
use ork::config::policy::Policy;
use ork::crypto::rsa_block::load_public_key;
use ork::event::Now;
use ork::net::{Reactor, ReactorConfig};

use super::args::{parse_cipher, parse_duration, parse_hop, parse_listen, HopSpec, Listen};
use super::{ConfigContext, ConfigError};

/// Run an onion proxy: accept standard structures, build onions, precrypt and relay.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  ork onion-proxy --listen 9050 --network network.txt --entry r1 --hops 5

The network file has 'router NAME HOST:PORT PUBLIC-KEY-PATH' and 'link NAME NAME' lines
(docs/protocol.md §10.2).")]
pub struct Args {
    /// Address to listen on for application proxies: [HOST:]PORT.
    #[arg(long, value_name = "[HOST:]PORT", default_value = "9050", value_parser = parse_listen)]
    pub listen: Listen,
    /// Network file: the routers, their keys and links.
    #[arg(long, value_name = "FILE", required_unless_present = "directory", conflicts_with = "directory")]
    pub network: Option<PathBuf>,
    /// Authorities file: take the network from the directory authorities' majority-signed
    /// document instead of a network file.
    #[arg(long, value_name = "AUTHORITIES-FILE")]
    pub directory: Option<PathBuf>,
    /// Where the network document is cached (with --directory).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Name (in the network file or document) of the entry router.
    #[arg(long, value_name = "NAME")]
    pub entry: String,
    /// Route length, entry router included.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u8).range(1..=5))]
    pub hops: u8,
    /// Policy file: which applications, hosts and ports may be reached.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Forward cipher (ForwF) of every layer.
    #[arg(long, value_name = "CIPHER", default_value = "aes-128-ctr", value_parser = parse_cipher)]
    pub forw: CipherCode,
    /// Backward cipher (BackF) of every layer.
    #[arg(long, value_name = "CIPHER", default_value = "aes-128-ctr", value_parser = parse_cipher)]
    pub back: CipherCode,
    /// Reach the entry router through a stand-alone funnel: HOST:PORT=PUBLIC-KEY.
    #[arg(long, value_name = "HOST:PORT=PUBKEY", value_parser = parse_hop)]
    pub via: Option<HopSpec>,
    /// Lifetime of the onions it builds.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub expires: Duration,
    /// Networks application proxies may connect from (CIDR; repeat for more).
    #[arg(long, value_name = "CIDR", default_values = ["127.0.0.0/8", "::1/128"], value_parser = parse_cidr)]
    pub allow_from: Vec<(IpAddr, u8)>,
    /// Write a status snapshot (JSON: uplink, connections, ACIs held) to this file every
    /// second, for `ork status`.
    #[arg(long, value_name = "FILE")]
    pub status_file: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let (network, source, directory) = match (&args.network, &args.directory) {
        (Some(path), _) => (Network::parse_file(path).config()?, path.display().to_string(), None),
        (None, Some(path)) => {
            let (keeper, store) = super::directory_io::client_document(path, args.state_dir.as_deref())?;
            let network = keeper.held().map(|d| d.to_network()).unwrap_or_default();
            (network, "the network document".to_owned(), Some((keeper, store)))
        }
        (None, None) => return Err(ConfigError::msg("give --network FILE or --directory AUTHORITIES-FILE")),
    };
    let entry = network
        .by_name(&args.entry)
        .ok_or_else(|| ConfigError::msg(format!("--entry {}: no such router in {source}", args.entry)))?;
    if let Some(path) = &args.network {
        super::route_check::hops_possible(&network, entry, usize::from(args.hops), path)?;
    }
    let policy = match &args.policy {
        Some(p) => Policy::parse_file(p).config()?,
        None => Policy::accept_all(),
    };
    let via = match &args.via {
        Some(h) => {
            let addr = h.addr.resolve_v4().map_err(ConfigError::msg)?;
            Some((SocketAddr::V4(addr), load_public_key(&h.key).config()?))
        }
        None => None,
    };
    if args.forw == CipherCode::Identity && args.back == CipherCode::Identity {
        log::warn!("--forw none --back none: connection data crosses every link in clear");
    }
    let cfg = OnionProxyConfig {
        network,
        entry,
        via,
        hops: usize::from(args.hops),
        policy,
        allow_from: args.allow_from.clone(),
        forw: args.forw,
        back: args.back,
        expires: args.expires,
        link_wait: Duration::from_secs(10),
    };
    let bind = args.listen.bind_addr();
    let listener = std::net::TcpListener::bind(bind).with_context(|| format!("cannot listen on {bind}"))?;
    log::info!("onion proxy listening on {bind}");
    let core = OnionProxy::new(cfg, Now::system());
    let reactor_cfg = ReactorConfig { status_file: args.status_file.clone(), ..ReactorConfig::default() };
    match directory {
        Some((keeper, store)) => {
            let core = ork::directory::client::directed(core, keeper, Now::system(), store);
            Reactor::new(core, vec![listener], reactor_cfg)?.run()?
        }
        None => Reactor::new(core, vec![listener], reactor_cfg)?.run()?,
    }
    Ok(())
}
