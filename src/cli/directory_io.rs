//! The directory's blocking edges for the command line: fetching the network document from the
//! authorities before a core starts (and for `ork directory show`), and the state directory
//! files (`StateStore`) the cores save through.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use ork::directory::client::{DocumentKeeper, CACHE_FILE};
use ork::directory::document::MAX_DOCUMENT_LEN;
use ork::directory::http::{parse_response, request, HttpError};
use ork::directory::StateStore;

/// Per-authority limit of a blocking fetch.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Files in a state directory, each replaced atomically (written aside, then renamed).
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    pub fn open(dir: &Path) -> anyhow::Result<FileStore> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create state directory {}", dir.display()))?;
        Ok(FileStore { dir: dir.to_owned() })
    }

    pub fn load(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.join(name)).ok()
    }
}

impl StateStore for FileStore {
    fn save(&mut self, name: &str, text: &str) {
        let path = self.dir.join(name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let result = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)
            .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = result {
            log::warn!("{}: cannot save: {e}", path.display());
        }
    }
}

/// `GET path` from `addr`, blocking, bounded in time and size.
pub fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT).with_context(|| format!("cannot connect to {addr}"))?;
    // Some environments lack socket timeouts (Shadow 3.3 answers ENOPROTOOPT): the fetch then
    // relies on the connect timeout and the authority closing, and says so at debug level.
    if let Err(e) = s.set_read_timeout(Some(TIMEOUT)).and_then(|()| s.set_write_timeout(Some(TIMEOUT))) {
        log::debug!("{addr}: no socket timeouts here ({e}); fetching without them");
    }
    s.write_all(&request("GET", &addr.to_string(), path, b""))?;
    let mut buf = Vec::new();
    s.take((MAX_DOCUMENT_LEN + 16 * 1024) as u64)
        .read_to_end(&mut buf)
        .with_context(|| format!("reading from {addr}"))?;
    parse_response(&buf, MAX_DOCUMENT_LEN).map_err(|e| match e {
        HttpError::Status(code, body) => anyhow::anyhow!("HTTP {code}: {}", String::from_utf8_lossy(&body).trim()),
        e => anyhow::anyhow!("{e}"),
    })
}

/// The unix time now.
pub fn unix_now() -> u64 {
    ork::event::Now::system().unix
}

/// Fill `keeper` with the newest valid document: the cached one in `store` (if any), then each
/// authority in turn until one gives a document that is accepted. Every refusal is logged with
/// its reason. Fails only when no valid document is held at the end.
pub fn obtain_document(keeper: &mut DocumentKeeper, store: Option<&FileStore>) -> anyhow::Result<()> {
    if let Some(text) = store.and_then(|s| s.load(CACHE_FILE)) {
        match keeper.offer(text.as_bytes(), unix_now()) {
            Ok(_) => log::info!("cached network document is valid"),
            Err(e) => log::info!("cached network document not used: {e}"),
        }
    }
    let mut reasons = Vec::new();
    for a in keeper.authorities().list.clone() {
        match http_get(SocketAddr::V4(a.addr), "/network") {
            Ok(body) => match keeper.offer(&body, unix_now()) {
                Ok(_) => {
                    if let Some(d) = keeper.held() {
                        let (n, until) = (d.routers.len(), d.validity.valid_until);
                        log::info!("network document from authority {}: {n} routers, valid until {until}", a.addr);
                    }
                    return Ok(());
                }
                Err(e) => {
                    log::warn!("authority {}: network document refused: {e}", a.addr);
                    reasons.push(format!("{}: {e}", a.addr));
                }
            },
            Err(e) => {
                log::warn!("authority {}: {e:#}", a.addr);
                reasons.push(format!("{}: {e:#}", a.addr));
            }
        }
    }
    if keeper.valid(unix_now()) {
        log::warn!("no authority answered with a valid document; using the cached one");
        return Ok(());
    }
    anyhow::bail!("no valid network document: {}", reasons.join("; "))
}

/// For `ork onion-proxy --directory`: the verified document (cached in `state_dir` when given)
/// and the store its refreshes are saved to.
pub fn client_document(
    authorities: &Path,
    state_dir: Option<&Path>,
) -> anyhow::Result<(DocumentKeeper, Box<dyn StateStore + Send>)> {
    use super::ConfigContext;
    let auths = ork::directory::Authorities::parse_file(authorities).config()?;
    let mut keeper = DocumentKeeper::new(auths);
    let store = state_dir.map(FileStore::open).transpose().config()?;
    obtain_document(&mut keeper, store.as_ref())?;
    let mut store: Box<dyn StateStore + Send> = match store {
        Some(s) => Box::new(s),
        None => {
            log::warn!("no --state-dir: the network document is not cached across restarts");
            Box::new(ork::directory::NoStore)
        }
    };
    if let Some(doc) = keeper.held() {
        store.save(CACHE_FILE, &doc.to_text());
    }
    Ok((keeper, store))
}
