//! `ork router`: an onion router with its entry and exit funnels (SPEC §3, §5, §6, §9) — the
//! flags are final, the router itself lands with its own issue.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use super::args::{parse_duration, parse_listen, Listen};

/// Run an onion router: links to its neighbours, onion peeling, mixing, entry and exit funnel.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  ork router --listen 9001 --key r1.key --neighbors r1.neighbors --state-dir /var/lib/ork/r1

The neighbours file has one 'HOST:PORT PUBLIC-KEY-PATH' a line (SPEC §10).")]
#[allow(dead_code)] // read once the router lands (it is not built yet)
pub struct Args {
    /// Address to listen on for neighbours and anonymous clients: [HOST:]PORT.
    #[arg(long, value_name = "[HOST:]PORT", default_value = "9001", value_parser = parse_listen)]
    pub listen: Listen,
    /// This router's private key (PKCS#8 PEM, from `ork keygen`).
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// Neighbours file: one `HOST:PORT PUBLIC-KEY-PATH` a line.
    #[arg(long, value_name = "FILE")]
    pub neighbors: PathBuf,
    /// IPv4 identity sent to neighbours (default: the listen host, else 127.0.0.1); required
    /// when listening on 0.0.0.0.
    #[arg(long, value_name = "IP")]
    pub address: Option<Ipv4Addr>,
    /// Mixing interval: cells arriving within it leave as one shuffled batch (0 = per wake-up).
    #[arg(long, value_name = "DURATION", default_value = "10ms", value_parser = parse_duration)]
    pub mix_interval: Duration,
    /// PADDING cells per second injected on each link.
    #[arg(long, value_name = "CELLS/S", default_value_t = 0.0)]
    pub padding_rate: f64,
    /// Directory for state that survives restarts (the replay cache).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Exit policy file (default: refuse loopback, private and link-local destinations).
    #[arg(long, value_name = "FILE")]
    pub exit_policy: Option<PathBuf>,
    /// Longest accepted time between now and an onion's expiration.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub max_onion_lifetime: Duration,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    log::debug!("{args:?}");
    Err(super::not_built("router"))
}
