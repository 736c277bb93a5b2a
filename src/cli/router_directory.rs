//! `ork router --directory`: the router's side of the directory — neighbours' keys taken from
//! the network document when the neighbours file omits them, its signed descriptor, and the
//! neighbours file read again while it runs (the core's `NeighborSource`).

use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ork::config::policy::Policy;
use ork::config::{parse_neighbors, Neighbor};
use ork::crypto::key_file::{load_private_key_file, OpenKey};
use ork::crypto::RsaPrivateKey;
use ork::directory::client::{DocumentKeeper, Follower, CACHE_FILE};
use ork::directory::neighbors::NeighborLine;
use ork::directory::presence::{DescriptorSigner, FileChange, FileWatch, LinkPlan, Presence};
use ork::directory::publisher::Publisher;
use ork::directory::{neighbors, Authorities, NoStore, StateStore};
use ork::event::Now;

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
    /// Also link with every router of the network document whose descriptor declares a link to
    /// this one (lets new routers join a running network). Implied without --neighbors.
    #[arg(long, requires = "directory")]
    pub links_from_directory: bool,
}

/// The neighbours a router starts with, and what its directory presence needs.
pub struct Start {
    pub neighbors: Vec<Neighbor>,
    /// With `--directory`: the neighbours file's lines (`None` without a file).
    pub lines: Option<Vec<NeighborLine>>,
    /// With `--directory`: the document obtained at start, if one was needed and found.
    pub keeper: Option<DocumentKeeper>,
}

/// The neighbours: from the file alone without `--directory`; with it, lines without a key
/// path get the key the network document lists for that address (fetched or cached in
/// `state_dir`), and without a file (or with --links-from-directory) the document is fetched
/// for the links the directory gives. Neighbours found nowhere are added once they are listed.
pub fn neighbors(args: &DirectoryArgs, path: Option<&Path>, state_dir: Option<&Path>) -> anyhow::Result<Start> {
    let Some(dir_file) = &args.directory else {
        let Some(path) = path else {
            return Err(super::ConfigError::msg("--neighbors is required without --directory"));
        };
        return Ok(Start { neighbors: parse_neighbors(path).config()?, lines: None, keeper: None });
    };
    let lines = path.map(neighbors::parse_file).transpose().config()?;
    let auths = Authorities::parse_file(dir_file).config()?;
    let mut keeper = DocumentKeeper::new(auths);
    let needs = lines.as_deref().map_or(true, neighbors::needs_document) || args.links_from_directory;
    if needs {
        let mut store = state_dir.map(FileStore::open).transpose()?;
        if let Err(e) = obtain_document(&mut keeper, store.as_ref()) {
            log::warn!("no network document yet ({e:#}); the links it gives come once one is fetched");
        } else if let (Some(store), Some(doc)) = (store.as_mut(), keeper.held()) {
            store.save(CACHE_FILE, &doc.to_text());
        }
    }
    let (found, missing) = neighbors::complete(lines.clone().unwrap_or_default(), keeper.held());
    for addr in missing {
        log::warn!("neighbour {addr}: no key path and not in the network document; added once it is listed");
    }
    Ok(Start { neighbors: found, lines, keeper: Some(keeper) })
}

/// This router's name in the directory, checked.
fn name(args: &DirectoryArgs, identity: SocketAddrV4) -> anyhow::Result<String> {
    let name = args.name.clone().unwrap_or_else(|| format!("{}-{}", identity.ip(), identity.port()));
    if !ork::directory::text::valid_name(&name) {
        return Err(super::ConfigError::msg(format!("--name {name:?}: 1 to 32 of A-Z a-z 0-9 - _ .")));
    }
    Ok(name)
}

/// The router's presence in the directory: its signed descriptor uploaded, the document
/// followed, its links kept in step with the file and the document.
#[allow(clippy::too_many_arguments)]
pub fn presence(
    args: &DirectoryArgs,
    start: Start,
    identity: SocketAddrV4,
    key: Arc<RsaPrivateKey>,
    exit_policy: &Policy,
    neighbors_path: Option<&Path>,
    key_path: &Path,
    open: OpenKey,
    state_dir: Option<&Path>,
) -> anyhow::Result<Option<Presence>> {
    let (Some(keeper), Some(_)) = (start.keeper, &args.directory) else { return Ok(None) };
    let mut signer = DescriptorSigner {
        name: name(args, identity)?,
        addr: identity,
        key,
        ciphers: vec![0, 1, 2, 3, 4],
        exit_policy: exit_policy.to_string().lines().map(str::to_owned).collect(),
        last_published: 0,
    };
    let text = signer.sign(unix_now(), start.neighbors.iter().map(|n| n.addr).collect()).map_err(anyhow::Error::msg)?;
    let auths = keeper.authorities().clone();
    let publisher = Publisher::new(auths, text, args.publish_interval);
    let store: Box<dyn StateStore + Send> = match state_dir {
        Some(dir) => Box::new(FileStore::open(dir)?),
        None => Box::new(NoStore),
    };
    let follower = Follower::new(keeper, Now::system(), store);
    let plan =
        LinkPlan { links_from_directory: args.links_from_directory || start.lines.is_none(), lines: start.lines };
    let files: Box<dyn FileWatch> = Box::new(FileSource::new(neighbors_path, key_path, open));
    Ok(Some(Presence::new(publisher, follower, signer, plan, Some(files))))
}

/// The neighbours file and the key file, read again; each change reported once.
struct FileSource {
    neighbors: Option<(PathBuf, Option<Vec<u8>>)>,
    key: (PathBuf, Option<Vec<u8>>),
    open: OpenKey,
}

impl FileSource {
    fn new(neighbors: Option<&Path>, key: &Path, open: OpenKey) -> FileSource {
        let neighbors = neighbors.map(|p| (p.to_owned(), std::fs::read(p).ok()));
        FileSource { neighbors, key: (key.to_owned(), std::fs::read(key).ok()), open }
    }
}

/// The file's bytes when they differ from `last` (which then takes them); unreadable files
/// count as unchanged (a file being replaced may be missing for a moment).
fn changed(path: &Path, last: &mut Option<Vec<u8>>) -> bool {
    match std::fs::read(path) {
        Ok(now) if last.as_ref() != Some(&now) => {
            *last = Some(now);
            true
        }
        _ => false,
    }
}

impl FileWatch for FileSource {
    fn changes(&mut self) -> Vec<FileChange> {
        let mut out = Vec::new();
        if changed(&self.key.0, &mut self.key.1) {
            let key = load_private_key_file(&self.key.0, self.open).map(Arc::new).map_err(|e| e.to_string());
            out.push(FileChange::Key(key));
        }
        if let Some((path, last)) = self.neighbors.as_mut() {
            if changed(path, last) {
                out.push(FileChange::Neighbors(neighbors::parse_file(path).map_err(|e| e.to_string())));
            }
        }
        out
    }
}
