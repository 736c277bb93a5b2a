//! `ork mkonion reply`: make a batch of reply onions (§15) for an anonymous service — the
//! users' `REPLY` lines, and the owner's key records (mode 0600) in its state directory.

use std::io::Write;
use std::net::SocketAddrV4;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use ork::config::network::Network;
use ork::crypto::CipherCode;
use ork::onion::{build_reply, OnionPlan, MAX_HOPS};
use ork::reply::line::ReplyLine;
use ork::reply::record::{OwnerRecord, Record};
use ork::reply::Tag;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::super::args::{parse_cipher, parse_duration};
use super::super::{emit, ConfigContext, ConfigError};
use super::unix_now;

/// Make reply onions: connections back to this (anonymous) owner through a route it chose.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  ork mkonion reply --network network.txt --hops 3 --endpoint 10.0.0.5:9070 \\
      --state-dir ~/.ork/reply --count 10 --expires 24h -o replies.txt
Hand the lines of replies.txt to users (each opens one connection); the records in
--state-dir hold every key of the routes: keep them secret.")]
pub struct ReplyArgs {
    /// The network file (routers and links) to choose reply routes from.
    #[arg(long, value_name = "FILE")]
    pub network: PathBuf,
    /// Routers per reply route, 1 to 5.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub hops: usize,
    /// The owner's reply endpoint, IPv4:PORT (where `ork onion-proxy --reply-listen` listens;
    /// the route's last router connects to it).
    #[arg(long, value_name = "IP:PORT")]
    pub endpoint: SocketAddrV4,
    /// The route's last router (by its name in the network file), the one that learns the
    /// endpoint's address; default: any.
    #[arg(long, value_name = "NAME")]
    pub last: Option<String>,
    /// How many reply onions (one line each; each opens one connection).
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub count: usize,
    /// Lifetime: the reply onions expire this long from now.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_duration)]
    pub expires: Duration,
    /// Forward cipher (ForwF) of every layer.
    #[arg(long, value_name = "CIPHER", default_value = "aes-128-ctr", value_parser = parse_cipher)]
    pub forw: CipherCode,
    /// Backward cipher (BackF) of every layer.
    #[arg(long, value_name = "CIPHER", default_value = "aes-128-ctr", value_parser = parse_cipher)]
    pub back: CipherCode,
    /// The owner's directory of key records (created mode 0700; records are 0600).
    #[arg(long, value_name = "DIR")]
    pub state_dir: PathBuf,
    /// Where to write the users' `REPLY` lines (appended to when the file exists).
    #[arg(short, long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Most reply onions one invocation makes.
const MAX_COUNT: usize = 100_000;

pub fn run_reply(a: ReplyArgs) -> anyhow::Result<()> {
    if a.hops == 0 || a.hops > MAX_HOPS {
        return Err(ConfigError::msg(format!("--hops {}: a route has 1 to {MAX_HOPS} routers", a.hops)));
    }
    if a.count == 0 || a.count > MAX_COUNT {
        return Err(ConfigError::msg(format!("--count {}: make 1 to {MAX_COUNT} reply onions", a.count)));
    }
    if a.endpoint.port() == 0 || a.endpoint.ip().is_unspecified() {
        return Err(ConfigError::msg(format!("--endpoint {}: address and port must both be non-zero", a.endpoint)));
    }
    if a.forw == CipherCode::Identity || a.back == CipherCode::Identity {
        log::warn!("identity cipher chosen: the route's crypting is clear (the end-to-end layer still applies)");
    }
    let net = Network::parse_file(&a.network).config()?;
    let expiration = u32::try_from(unix_now().saturating_add(a.expires.as_secs()))
        .map_err(|_| ConfigError::msg("--expires: the expiration does not fit in 32 bits"))?;
    let last = match &a.last {
        Some(name) => Some(
            net.by_name(name)
                .ok_or_else(|| ConfigError::msg(format!("--last {name}: no such router in {}", a.network.display())))?,
        ),
        None => None,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&a.state_dir)
        .with_context(|| format!("{}: cannot create the state directory", a.state_dir.display()))?;
    let mut rng = ChaCha20Rng::from_entropy();
    let mut lines = String::new();
    let mut first_route = Vec::new();
    for _ in 0..a.count {
        let route = reply_route(&net, a.hops, last, &mut rng)?;
        let hops = net.route_hops(&route);
        let plan = OnionPlan::random(a.hops, a.forw, a.back, expiration, &mut rng);
        let onion = build_reply(&hops, &plan, a.endpoint).context("building a reply onion")?;
        let mut user_seed = [0u8; 16];
        rng.fill(&mut user_seed);
        let tag = Tag::from_seed(&plan.seeds[a.hops - 1]);
        let record = Record::Live(OwnerRecord {
            tag,
            expiration,
            forw_f: a.forw,
            back_f: a.back,
            seeds: plan.seeds.clone(),
            user_seed,
        });
        write_private(&a.state_dir.join(Record::file_name(&tag)), record.to_text().as_bytes(), true)?;
        let line = ReplyLine { h1: hops[0].addr, onion, expiration, user_seed };
        lines.push_str(&format!("{line}\n"));
        if first_route.is_empty() {
            first_route = route.iter().map(|&i| net.routers[i].name.clone()).collect();
        }
    }
    write_private(&a.out, lines.as_bytes(), false)?;
    emit(format_args!(
        "wrote {} reply onion{} to {} ({} hops, e.g. {} -> endpoint {}), expiring {}; owner's records in {}\n",
        a.count,
        if a.count == 1 { "" } else { "s" },
        a.out.display(),
        a.hops,
        first_route.join(" -> "),
        a.endpoint,
        super::report::utc(expiration),
        a.state_dir.display()
    ))
}

/// A random route of `hops` routers whose last is `last` (or any router): a uniformly chosen
/// route starting there, reversed, since links are undirected.
fn reply_route(net: &Network, hops: usize, last: Option<usize>, rng: &mut ChaCha20Rng) -> anyhow::Result<Vec<usize>> {
    let start = match last {
        Some(l) => l,
        None => {
            let counts: Vec<usize> = (0..net.routers.len()).map(|i| net.count_routes(i, hops)).collect();
            let total: usize = counts.iter().sum();
            if total == 0 {
                return Err(ConfigError::msg(format!("no route of {hops} distinct routers along the network's links")));
            }
            let mut k = rng.gen_range(0..total);
            counts
                .iter()
                .position(|&c| {
                    if k < c {
                        true
                    } else {
                        k -= c;
                        false
                    }
                })
                .unwrap_or(0)
        }
    };
    let mut route = net.random_route(start, hops, rng).config()?;
    route.reverse();
    Ok(route)
}

/// Write `bytes` to a new file of mode 0600 (`append` when it may exist already: users' lines).
fn write_private(path: &Path, bytes: &[u8], create_new: bool) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .append(!create_new)
        .create(!create_new)
        .create_new(create_new)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("{}: cannot create", path.display()))?;
    f.write_all(bytes).and_then(|()| f.sync_all()).with_context(|| format!("{}: cannot write", path.display()))
}
