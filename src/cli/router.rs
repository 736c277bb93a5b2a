//! `ork router`: an onion router with its entry and exit funnels (protocol.md §3, §5, §6, §9).

use std::net::Ipv4Addr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::Duration;

use std::net::{IpAddr, SocketAddrV4};
use std::sync::Arc;

use anyhow::Context;
use ork::config::policy::Policy;
use ork::crypto::key_file::{load_private_key_file, OpenKey};
use ork::net::{Reactor, ReactorConfig};
use ork::router::mixer::BatchTiming;
use ork::router::{OnionRate, ReplayCache, Router, RouterConfig, Timeouts};

use super::args::{parse_duration, parse_listen, Listen};
use super::ConfigContext;

/// Run an onion router: links to its neighbours, onion peeling, mixing, entry and exit funnel.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  ork router --listen 9001 --key r1.key --neighbors r1.neighbors --state-dir /var/lib/ork/r1

The neighbours file has one 'HOST:PORT PUBLIC-KEY-PATH' a line (docs/protocol.md §10.1).")]
pub struct Args {
    /// Address to listen on for neighbours and anonymous clients: [HOST:]PORT.
    #[arg(long, value_name = "[HOST:]PORT", default_value = "9001", value_parser = parse_listen)]
    pub listen: Listen,
    /// This router's private key (PKCS#8 PEM, from `ork keygen`).
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// Neighbours file: one `HOST:PORT PUBLIC-KEY-PATH` a line (optional with --directory:
    /// without it the router links with the routers the network document lists).
    #[arg(long, value_name = "FILE")]
    pub neighbors: Option<PathBuf>,
    /// IPv4 identity sent to neighbours (default: the listen host, else 127.0.0.1); required
    /// when listening on 0.0.0.0.
    #[arg(long, value_name = "IP")]
    pub address: Option<Ipv4Addr>,
    /// Mixing interval: cells arriving within it leave as one shuffled batch (0 = per wake-up).
    #[arg(long, value_name = "DURATION", default_value = "10ms", value_parser = parse_duration)]
    pub mix_interval: Duration,
    /// How long a batch holding cells of one connection only waits for a second connection's
    /// cells before it leaves (capped by --mix-interval; equal to it gives the paper's
    /// fixed-interval mixer).
    #[arg(long, value_name = "DURATION", default_value = "1ms", value_parser = parse_duration)]
    pub mix_lone_wait: Duration,
    /// PADDING cells per second injected on each link.
    #[arg(long, value_name = "CELLS/S", default_value_t = 0.0)]
    pub padding_rate: f64,
    /// Directory for state that survives restarts (the replay cache).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Exit policy file (default: refuse RLOGIN, this host's own addresses, and loopback,
    /// private and link-local destinations).
    #[arg(long, value_name = "FILE")]
    pub exit_policy: Option<PathBuf>,
    /// Longest accepted time between now and an onion's expiration.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub max_onion_lifetime: Duration,
    /// Largest number of onion key seeds the replay cache may hold.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub replay_cache_size: usize,
    /// Do not fsync the replay log after each record (faster onions; after a power loss the
    /// last onions seen could be replayed). The default syncs every record before the onion is
    /// acted on.
    #[arg(long)]
    pub no_replay_fsync: bool,
    /// Bound of a random per-hop delay before forwarding a DESTROY (0 = none).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub destroy_jitter: Duration,
    /// Write a JSON status snapshot (links, counters, refusals; no connection maps) here every
    /// second; read it with `ork status FILE`.
    #[arg(long, value_name = "PATH")]
    pub status_file: Option<PathBuf>,
    /// Accept a private key file that group or others can access (refused by default, as ssh
    /// does).
    #[arg(long)]
    pub allow_open_key: bool,
    /// Onions per second each link may sustain; more are refused with DESTROY before any RSA
    /// work and counted in the status file.
    #[arg(long, value_name = "ONIONS/S", default_value_t = 50.0)]
    pub onion_rate: f64,
    /// Onions a link may send at once after a quiet spell (the token bucket's size).
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub onion_burst: u32,
    /// TESTS ONLY: append every link's keys and this router's connection map to this file, so
    /// a capture checker can decrypt and follow its traffic. Defeats the router's purpose.
    #[arg(long, value_name = "FILE")]
    pub link_key_log: Option<PathBuf>,
    #[command(flatten)]
    pub directory: super::router_directory::DirectoryArgs,
}

/// The identity sent to neighbours: --address, else the listen host, else 127.0.0.1.
fn identity(args: &Args) -> anyhow::Result<SocketAddrV4> {
    let ip = match (args.address, args.listen.host) {
        (Some(a), _) => a,
        (None, Some(IpAddr::V4(a))) if !a.is_unspecified() => a,
        (None, Some(IpAddr::V4(_))) => {
            return Err(super::ConfigError::msg("--address is required when listening on 0.0.0.0"))
        }
        (None, Some(IpAddr::V6(_))) => return Err(super::ConfigError::msg("routers are IPv4: give --address")),
        (None, None) => Ipv4Addr::LOCALHOST,
    };
    Ok(SocketAddrV4::new(ip, args.listen.port))
}

/// The addresses the default exit policy refuses as this host's own: the identity's and every
/// interface's (read once at start).
fn own_addresses(identity: SocketAddrV4) -> Vec<IpAddr> {
    let mut own = vec![IpAddr::V4(*identity.ip())];
    match ork::net::interfaces::interface_addresses() {
        Ok(addrs) => own.extend(addrs),
        Err(e) => log::warn!("cannot list this host's interface addresses ({e}); the default exit policy refuses only --address and the fixed ranges"),
    }
    own.dedup();
    log::info!("default exit policy refuses this host's own addresses: {own:?}");
    own
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.neighbors.is_none() && args.directory.directory.is_none() {
        return Err(super::ConfigError::msg(
            "--neighbors FILE is required (it may be left out only with --directory AUTHORITIES-FILE)",
        ));
    }
    let identity = identity(&args)?;
    let open = if args.allow_open_key { OpenKey::Allow } else { OpenKey::Refuse };
    let key = Arc::new(load_private_key_file(&args.key, open).config()?);
    let neighbors_path = args.neighbors.as_deref();
    let start = super::router_directory::neighbors(&args.directory, neighbors_path, args.state_dir.as_deref())?;
    if let Some(me) = start.neighbors.iter().find(|n| n.addr == identity) {
        return Err(super::ConfigError::msg(format!(
            "{}: neighbour {} is this router's own address (--listen/--address): a router does not link to itself",
            neighbors_path.unwrap_or(std::path::Path::new("--neighbors")).display(),
            me.addr
        )));
    }
    let neighbors = start.neighbors.clone();
    let exit_policy = match &args.exit_policy {
        Some(p) => Policy::parse_file(p).config()?,
        None => Policy::default_exit_for(&own_addresses(identity)),
    };
    if !(args.padding_rate >= 0.0 && args.padding_rate.is_finite()) {
        return Err(super::ConfigError::msg("--padding-rate must be a non-negative number"));
    }
    if !(args.onion_rate > 0.0 && args.onion_rate.is_finite()) || args.onion_burst == 0 {
        return Err(super::ConfigError::msg("--onion-rate must be a positive number and --onion-burst at least 1"));
    }
    let onion_rate = OnionRate { per_second: args.onion_rate, burst: args.onion_burst };
    let now_unix = ork::event::Now::system().unix;
    let replay = match &args.state_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create state directory {}", dir.display()))
                .config()?;
            ork::net::replay_file::open_cache(dir, args.replay_cache_size, now_unix, !args.no_replay_fsync).config()?
        }
        None => {
            log::warn!("no --state-dir: the replay cache will not survive a restart");
            ReplayCache::new(args.replay_cache_size)
        }
    };
    let presence = super::router_directory::presence(
        &args.directory,
        start,
        identity,
        key.clone(),
        &exit_policy,
        neighbors_path,
        &args.key,
        open,
        args.state_dir.as_deref(),
    )?;
    let cfg = RouterConfig {
        identity,
        key,
        neighbors,
        mixing: BatchTiming { interval: args.mix_interval, lone_wait: args.mix_lone_wait },
        padding_rate: args.padding_rate,
        max_onion_lifetime: args.max_onion_lifetime,
        exit_policy,
        timeouts: Timeouts::default(),
        destroy_jitter: args.destroy_jitter,
        key_log: args.link_key_log.is_some(),
    };
    let key_log = match &args.link_key_log {
        None => None,
        Some(path) => {
            log::warn!(
                "WARNING: --link-key-log {}: this router's link keys and connection map are written \
                 there; whoever reads it can decrypt and link all its traffic. For tests only.",
                path.display()
            );
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("{}: cannot open the link key log", path.display()))
                .config()?;
            Some(f)
        }
    };
    let bind = args.listen.bind_addr();
    let listener = std::net::TcpListener::bind(bind).with_context(|| format!("cannot listen on {bind}"))?;
    log::info!("listening on {bind} as {identity}");
    let reactor_cfg = ReactorConfig { status_file: args.status_file.clone(), key_log, ..ReactorConfig::default() };
    let router = Router::new(cfg, replay).with_onion_rate(onion_rate);
    match presence {
        Some(presence) => {
            let core = ork::directory::presence::present(router, presence);
            Reactor::new(core, vec![listener], reactor_cfg)?.run()?
        }
        None => Reactor::new(router, vec![listener], reactor_cfg)?.run()?,
    }
    Ok(())
}
