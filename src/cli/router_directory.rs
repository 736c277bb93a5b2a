//! `ork router --directory`: the router's side of the directory — neighbours' keys taken from
//! the network document when the neighbours file omits them, and its signed descriptor.

use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ork::config::policy::Policy;
use ork::config::{parse_neighbors, Neighbor};
use ork::crypto::RsaPrivateKey;
use ork::directory::client::{DocumentKeeper, CACHE_FILE};
use ork::directory::StateStore;
use ork::directory::{neighbors, Authorities, Descriptor};

use super::args::parse_duration;
use super::directory_io::{obtain_document, unix_now, FileStore};
use super::ConfigContext;

/// The router's directory options.
#[derive(Debug, Clone, clap::Args)]
pub struct DirectoryArgs {
    /// Authorities file: upload this router's signed descriptor to each, and take neighbours'
    /// keys from the network document when the neighbours file omits them.
    #[arg(long, value_name = "AUTHORITIES-FILE")]
    pub directory: Option<PathBuf>,
    /// How often the descriptor is uploaded again.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub publish_interval: Duration,
    /// This router's name in the directory (default: its identity as ADDRESS-PORT).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

/// The neighbours: from the file alone without `--directory`; with it, lines without a key
/// path get the key the network document lists for that address (fetched or cached in
/// `state_dir`). Neighbours found nowhere are left out with a warning.
pub fn neighbors(args: &DirectoryArgs, path: &Path, state_dir: Option<&Path>) -> anyhow::Result<Vec<Neighbor>> {
    let Some(dir_file) = &args.directory else { return parse_neighbors(path).config() };
    let lines = neighbors::parse_file(path).config()?;
    if !neighbors::needs_document(&lines) {
        return Ok(neighbors::complete(lines, None).0);
    }
    let auths = Authorities::parse_file(dir_file).config()?;
    let mut store = state_dir.map(FileStore::open).transpose()?;
    let mut keeper = DocumentKeeper::new(auths);
    if let Err(e) = obtain_document(&mut keeper, store.as_ref()) {
        log::warn!("{}: neighbours without a key path cannot be completed: {e:#}", path.display());
    } else if let (Some(store), Some(doc)) = (store.as_mut(), keeper.held()) {
        store.save(CACHE_FILE, &doc.to_text());
    }
    let (found, missing) = neighbors::complete(lines, keeper.held());
    for addr in missing {
        log::warn!("neighbour {addr}: no key path and not in the network document; left out (restart once it is)");
    }
    Ok(found)
}

/// The signed descriptor of this router.
pub fn descriptor(
    args: &DirectoryArgs,
    identity: SocketAddrV4,
    key: &RsaPrivateKey,
    neighbors: &[Neighbor],
    exit_policy: &Policy,
) -> anyhow::Result<String> {
    let name = args.name.clone().unwrap_or_else(|| format!("{}-{}", identity.ip(), identity.port()));
    if !ork::directory::text::valid_name(&name) {
        return Err(super::ConfigError::msg(format!("--name {name:?}: 1 to 32 of A-Z a-z 0-9 - _ .")));
    }
    let desc = Descriptor {
        name,
        addr: identity,
        key: key.to_public_key(),
        published: unix_now(),
        ciphers: vec![0, 1, 2, 3, 4],
        exit_policy: exit_policy.to_string().lines().map(str::to_owned).collect(),
        neighbors: neighbors.iter().map(|n| n.addr).collect(),
    };
    Ok(desc.sign(key).map_err(|e| anyhow::anyhow!("cannot sign the descriptor: {e}"))?.text)
}
