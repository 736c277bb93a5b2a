//! `ork funnel`: the stand-alone entry funnel of the customer–ISP configuration (SPEC §8) — the
//! flags are final, the funnel itself lands with its own issue.

use std::path::PathBuf;

use super::args::{parse_host_port, parse_listen, HostPort, Listen};

/// Run a stand-alone entry funnel: multiplex onion proxies over one link to a router.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  ork funnel --listen 9060 --key funnel.key --router 10.0.0.1:9001 --router-key r1.pub

Onion proxies then use it with --via HOST:9060=funnel.pub.")]
#[allow(dead_code)] // read once the funnel lands (it is not built yet)
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
}

pub fn run(args: Args) -> anyhow::Result<()> {
    log::debug!("{args:?}");
    Err(super::not_built("funnel"))
}
