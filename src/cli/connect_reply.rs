//! `ork connect --reply-onion FILE [--direct]` (protocol.md §15): take the first unused `REPLY`
//! line of FILE (marking it `# used ` before anything is sent), and open the one connection it
//! allows — by default with protocol 6 through the user's own route (the exit splices into the
//! reply route at h1), with `--direct` as the CREATE cells of a new connection from the onion
//! proxy when h1 is its entry router. Either way the end-to-end layer keyed by the line's user
//! seed crypts the data here, so no router sees it.

use std::path::PathBuf;

use anyhow::Context;
use ork::client::onion_proxy::direct::DIRECT;
use ork::reply::e2e::{EndToEnd, Side};
use ork::reply::line::take_first_unused;
use ork::wire::standard::Host;
use ork::wire::{Protocol, StandardStructure, Status};

use super::connect::{relay, Args, Refused};
use super::ConfigError;

/// The reply-onion flags of `ork connect`.
#[derive(Debug, clap::Args)]
pub struct ReplyArgs {
    /// Connect to a reply onion's owner with the first unused `REPLY` line of this file (the
    /// line is marked used first: each reply onion opens one connection).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["host", "port"])]
    pub reply_onion: Option<PathBuf>,
    /// Send the reply onion straight from the onion proxy, without a route of the user's own:
    /// only when h1 is the onion proxy's entry router (h1 then learns the user's address).
    #[arg(long, requires = "reply_onion")]
    pub direct: bool,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let Some(path) = &args.reply.reply_onion else { return Ok(()) };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))
        .map_err(|e| ConfigError::msg(format!("{e:#}")))?;
    let taken = take_first_unused(&text)
        .map_err(|e| ConfigError::msg(format!("{}: {e}", path.display())))?
        .ok_or_else(|| ConfigError::msg(format!("{}: every reply onion in it is used", path.display())))?;
    std::fs::write(path, &taken.marked)
        .with_context(|| format!("{}: cannot mark line {} used", path.display(), taken.line_no))?;
    let line = taken.line;
    let now = ork::event::Now::system().unix;
    if u64::from(line.expiration) < now {
        log::warn!("{} line {}: this reply onion expired; the routers will refuse it", path.display(), taken.line_no);
    }
    let mut structure = StandardStructure::new(Protocol::Reply, Host::V4(*line.h1.ip()), line.h1.port());
    if args.reply.direct {
        structure.retries = DIRECT;
    }
    let mut head = structure.to_bytes();
    head.extend_from_slice(&line.onion);
    let mut up = EndToEnd::new(&line.user_seed, Side::User);
    let mut down = EndToEnd::new(&line.user_seed, Side::User);
    let what = format!("the reply onion of line {} (h1 {})", taken.line_no, line.h1);
    match relay(args, &head, &what, Box::new(move |b| up.seal(b)), Box::new(move |b| down.open(b))) {
        Ok(()) => Ok(()),
        Err(Refused::Status(Status::BadAddress)) if args.reply.direct => Err(ConfigError::msg(format!(
            "--direct: h1 {} is not the onion proxy's entry router; use the default way (without --direct)",
            line.h1
        ))),
        Err(Refused::Status(s)) => Err(anyhow::anyhow!("{what}: {s}")),
        Err(Refused::Other(e)) => Err(e),
    }
}
