//! `ork directory`: run a directory authority, or (`ork directory show`) print the current
//! network document, verified against the authorities file.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ork::crypto::rsa_block::load_private_key;
use ork::directory::authority::AuthorityState;
use ork::directory::client::DocumentKeeper;
use ork::directory::server::{AuthorityServer, CONSENSUS_FILE, DESCRIPTORS_FILE};
use ork::directory::{Authorities, NetworkDocument};
use ork::event::Now;
use ork::net::{Reactor, ReactorConfig};
use rand::SeedableRng;

use super::args::{parse_duration, parse_listen, Listen};
use super::directory_io::{obtain_document, FileStore};
use super::{emit, ConfigContext, ConfigError};

/// Run a directory authority (HTTP on its port: POST /descriptor, GET /network), or show the
/// current network document.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
#[command(after_help = "\
Examples:
  ork directory --listen 9030 --key a1.key --authorities authorities --state-dir /var/lib/ork/a1
  ork directory show --directory authorities
  curl http://127.0.0.1:9030/network

The authorities file has one 'HOST:PORT PUBLIC-KEY-PATH' a line, the same file for
authorities, routers and onion proxies. See ork-directory(1) and docs/directory.md.")]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Sub>,
    /// Address to listen on: [HOST:]PORT.
    #[arg(long, value_name = "[HOST:]PORT", default_value = "9030", value_parser = parse_listen)]
    pub listen: Listen,
    /// This authority's private key (its public key must be in the authorities file).
    #[arg(long, value_name = "KEY", required = true)]
    pub key: Option<PathBuf>,
    /// The authorities file.
    #[arg(long, value_name = "FILE", required = true)]
    pub authorities: Option<PathBuf>,
    /// Where the held descriptors and the last consensus are kept across restarts.
    #[arg(long, value_name = "DIR", required = true)]
    pub state_dir: Option<PathBuf>,
    /// The consensus period; every authority must use the same.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub interval: Duration,
}

#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Fetch, verify and print the current network document.
    Show(ShowArgs),
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The authorities file.
    #[arg(long, value_name = "FILE")]
    pub directory: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Print the document's text as fetched (signatures included) instead.
    #[arg(long, conflicts_with = "json")]
    pub raw: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(Sub::Show(show_args)) = args.command {
        return show(show_args);
    }
    let missing = || ConfigError::msg("--key, --authorities and --state-dir are required");
    let (Some(key), Some(auths), Some(state_dir)) = (&args.key, &args.authorities, &args.state_dir) else {
        return Err(missing());
    };
    let key = load_private_key(key).config()?;
    let auths = Authorities::parse_file(auths).config()?;
    let store = FileStore::open(state_dir).config()?;
    let now = Now::system();
    let now_ms = now.unix * 1000;
    let interval_ms = args.interval.as_millis() as u64;
    let mut state = AuthorityState::new(Arc::new(key), auths, interval_ms, now_ms).map_err(ConfigError::msg)?;
    let descriptors = store.load(DESCRIPTORS_FILE).unwrap_or_default();
    state.restore(&descriptors, store.load(CONSENSUS_FILE).as_deref(), now_ms);
    let bind = args.listen.bind_addr();
    let listener = std::net::TcpListener::bind(bind).with_context(|| format!("cannot listen on {bind}"))?;
    log::info!("directory authority listening on {bind}, interval {}", humantime::format_duration(args.interval));
    let rng = rand_chacha::ChaCha20Rng::from_entropy();
    let core = AuthorityServer::new(state, now, rng, Box::new(store));
    Reactor::new(core, vec![listener], ReactorConfig::default())?.run()?;
    Ok(())
}

fn show(args: ShowArgs) -> anyhow::Result<()> {
    let auths = Authorities::parse_file(&args.directory).config()?;
    let mut keeper = DocumentKeeper::new(auths.clone());
    obtain_document(&mut keeper, None)?;
    let Some(doc) = keeper.held() else { anyhow::bail!("no document") };
    let signers = doc.signers(&auths);
    if args.raw {
        return emit(doc.to_text());
    }
    if args.json {
        return emit(format!("{}\n", json(doc, &signers, &auths)));
    }
    let v = doc.validity;
    let mut out = format!(
        "network document: period {}, valid-after {}, fresh-until {}, valid-until {}\nsigned by {} of {} authorities\n\n",
        v.period,
        v.valid_after,
        v.fresh_until,
        v.valid_until,
        signers.len(),
        auths.list.len()
    );
    out += &format!(
        "{} routers\n{:<16} {:<21} {:<40} {:>10} NEIGHBOURS\n",
        doc.routers.len(),
        "NAME",
        "ADDRESS",
        "KEY FINGERPRINT",
        "PUBLISHED"
    );
    for (i, r) in doc.routers.iter().enumerate() {
        let neighbours: Vec<&str> = doc
            .links
            .iter()
            .filter_map(|&(a, b)| {
                if a == i {
                    Some(b)
                } else if b == i {
                    Some(a)
                } else {
                    None
                }
            })
            .map(|j| doc.routers[j].desc.name.as_str())
            .collect();
        let d = &r.desc;
        out += &format!(
            "{:<16} {:<21} {:<40} {:>10} {}\n",
            d.name,
            d.addr,
            d.fingerprint(),
            d.published,
            neighbours.join(",")
        );
    }
    emit(out)
}

fn json(doc: &NetworkDocument, signers: &[ork::directory::Fingerprint], auths: &Authorities) -> serde_json::Value {
    let routers: Vec<serde_json::Value> = doc
        .routers
        .iter()
        .map(|r| {
            let d = &r.desc;
            serde_json::json!({
                "name": d.name, "address": d.addr.to_string(), "fingerprint": d.fingerprint().to_string(),
                "published": d.published, "ciphers": d.ciphers, "exit_policy": d.exit_policy,
                "neighbors": d.neighbors.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })
        })
        .collect();
    let links: Vec<[&str; 2]> = doc
        .links
        .iter()
        .map(|&(a, b)| [doc.routers[a].desc.name.as_str(), doc.routers[b].desc.name.as_str()])
        .collect();
    let v = doc.validity;
    serde_json::json!({
        "period": v.period, "valid_after": v.valid_after, "fresh_until": v.fresh_until, "valid_until": v.valid_until,
        "signed_by": signers.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "authorities": auths.list.len(), "routers": routers, "links": links,
    })
}
