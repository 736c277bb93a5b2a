//! `ork onion-proxy`: builds anonymous connections for application proxies (SPEC §7, §8) — the
//! flags are final, the onion proxy itself lands with its own issue.

use std::path::PathBuf;
use std::time::Duration;

use ork::crypto::CipherCode;

use super::args::{parse_cipher, parse_duration, parse_hop, parse_listen, HopSpec, Listen};

/// Run an onion proxy: accept standard structures, build onions, precrypt and relay.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  ork onion-proxy --listen 9050 --network net.conf --entry r1 --hops 5

The network file has 'router NAME HOST:PORT PUBLIC-KEY-PATH' and 'link NAME NAME' lines
(SPEC §10).")]
#[allow(dead_code)] // read once the onion proxy lands (it is not built yet)
pub struct Args {
    /// Address to listen on for application proxies: [HOST:]PORT.
    #[arg(long, value_name = "[HOST:]PORT", default_value = "9050", value_parser = parse_listen)]
    pub listen: Listen,
    /// Network file: the routers, their keys and links.
    #[arg(long, value_name = "FILE")]
    pub network: PathBuf,
    /// Name (in the network file) of the entry router.
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
}

pub fn run(args: Args) -> anyhow::Result<()> {
    log::debug!("{args:?}");
    Err(super::not_built("onion-proxy"))
}
