//! A router's presence in the directory (`ork router --directory`): beside the router's core it
//! uploads the router's signed descriptor ([`Publisher`]), follows the network document
//! ([`Follower`]), and keeps the router's links in step with both:
//!
//! - a neighbours-file line without a key path gets its key once the document lists the address;
//! - with `links_from_directory`, a router of the document whose descriptor declares a link to
//!   this router becomes a neighbour (the running network accepts a newcomer);
//! - without a neighbours file, every router of the document is offered a link (up to the
//!   descriptor's 64), so a newcomer needs only the authorities file;
//! - the neighbours file is read again every [`FILE_CHECK`]; new lines become neighbours;
//! - a neighbour's key follows its file line, or (keyless) the document;
//! - the key file is read again as often: a new key is taken by the router at once.
//!
//! Whenever the neighbours or the router's key change, the descriptor is signed again
//! (published = now) and uploaded at once. Neighbours are only ever added while the router runs.

use std::net::SocketAddrV4;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{info, warn};
use rsa::{RsaPrivateKey, RsaPublicKey};

use super::beside::{Beside, Requests, Side, Tag};
use super::client::Follower;
use super::descriptor::{Descriptor, MAX_LIST};
use super::document::{NetworkDocument, MAX_DOCUMENT_LEN};
use super::fetch::Outcome;
use super::neighbors::NeighborLine;
use super::publisher::Publisher;
use crate::config::Neighbor;
use crate::event::{Core, Now};
use crate::router::Router;

/// How often the neighbours file is read again.
pub const FILE_CHECK: Duration = Duration::from_secs(5);

/// A core whose neighbours and key can change while it runs (the router's).
pub trait Linking: Core {
    fn neighbor_keys(&self) -> Vec<(SocketAddrV4, RsaPublicKey)>;
    fn add_neighbor(&mut self, now: Now, n: &Neighbor) -> bool;
    fn set_neighbor_key(&mut self, n: &Neighbor) -> bool;
    fn replace_key(&mut self, key: Arc<RsaPrivateKey>);
}

impl Linking for Router {
    fn neighbor_keys(&self) -> Vec<(SocketAddrV4, RsaPublicKey)> {
        Router::neighbor_keys(self)
    }
    fn add_neighbor(&mut self, now: Now, n: &Neighbor) -> bool {
        Router::add_neighbor(self, now, n)
    }
    fn set_neighbor_key(&mut self, n: &Neighbor) -> bool {
        Router::set_neighbor_key(self, n)
    }
    fn replace_key(&mut self, key: Arc<RsaPrivateKey>) {
        Router::replace_key(self, key)
    }
}

/// A file of the router's that changed (or could not be read again).
pub enum FileChange {
    Neighbors(Result<Vec<NeighborLine>, String>),
    Key(Result<Arc<RsaPrivateKey>, String>),
}

/// The neighbours and key files, read again by the driver's side of the seam (the core reads
/// no file).
pub trait FileWatch: Send {
    /// What changed since the last call.
    fn changes(&mut self) -> Vec<FileChange>;
}

/// What the descriptor says besides the neighbours, and the key that signs it.
pub struct DescriptorSigner {
    pub name: String,
    pub addr: SocketAddrV4,
    pub key: Arc<RsaPrivateKey>,
    pub ciphers: Vec<u8>,
    pub exit_policy: Vec<String>,
    /// The last `published` used (each new descriptor is strictly newer).
    pub last_published: u64,
}

impl DescriptorSigner {
    /// The signed descriptor text listing `neighbors`, published at `unix` (or later).
    pub fn sign(&mut self, unix: u64, neighbors: Vec<SocketAddrV4>) -> Result<String, String> {
        let published = unix.max(self.last_published + 1);
        let desc = Descriptor {
            name: self.name.clone(),
            addr: self.addr,
            key: self.key.to_public_key(),
            published,
            ciphers: self.ciphers.clone(),
            exit_policy: self.exit_policy.clone(),
            neighbors,
        };
        let signed = desc.sign(&self.key).map_err(|e| format!("cannot sign the descriptor: {e}"))?;
        self.last_published = published;
        Ok(signed.text)
    }
}

/// Where the router's links come from, besides the neighbours it started with.
pub struct LinkPlan {
    /// The neighbours file's lines (`None`: started without one, so links are offered to every
    /// router of the document).
    pub lines: Option<Vec<NeighborLine>>,
    /// Accept a link from any router of the document that declares one to this router.
    pub links_from_directory: bool,
}

impl LinkPlan {
    /// The neighbours `doc` (if any) and the file give that `have` lacks; addresses not
    /// (yet) resolvable are skipped.
    pub fn wanted(&self, me: SocketAddrV4, have: &[SocketAddrV4], doc: Option<&NetworkDocument>) -> Vec<Neighbor> {
        let mut out: Vec<Neighbor> = Vec::new();
        let missing =
            |a: SocketAddrV4, out: &[Neighbor]| a != me && !have.contains(&a) && !out.iter().any(|n| n.addr == a);
        let listed = |a: SocketAddrV4| doc.and_then(|d| d.routers.iter().find(|r| r.desc.addr == a));
        let from_doc = |r: &super::SignedDescriptor, why: &str| Neighbor {
            addr: r.desc.addr,
            key: r.desc.key.clone(),
            key_path: format!("(directory: router {}, {why})", r.desc.name).into(),
        };
        for l in self.lines.iter().flatten() {
            if !missing(l.addr, &out) {
                continue;
            }
            match (&l.known, listed(l.addr)) {
                (Some(n), _) => out.push(n.clone()),
                (None, Some(r)) => out.push(from_doc(r, "neighbours file")),
                (None, None) => {}
            }
        }
        let Some(doc) = doc else { return out };
        if self.links_from_directory {
            for r in doc.routers.iter().filter(|r| r.desc.neighbors.contains(&me)) {
                if missing(r.desc.addr, &out) {
                    out.push(from_doc(r, "declares a link to this router"));
                }
            }
        }
        if self.lines.is_none() {
            for r in &doc.routers {
                if have.len() + out.len() >= MAX_LIST {
                    break;
                }
                if missing(r.desc.addr, &out) {
                    out.push(from_doc(r, "offered a link"));
                }
            }
        }
        out.truncate(MAX_LIST.saturating_sub(have.len()));
        out
    }

    /// The key neighbour `addr` should have: its file line's, else the one `doc` lists.
    pub fn key_for(&self, addr: SocketAddrV4, doc: Option<&NetworkDocument>) -> Option<Neighbor> {
        if let Some(n) = self.lines.iter().flatten().find(|l| l.addr == addr).and_then(|l| l.known.clone()) {
            return Some(n);
        }
        let r = doc?.routers.iter().find(|r| r.desc.addr == addr)?;
        Some(Neighbor {
            addr,
            key: r.desc.key.clone(),
            key_path: format!("(directory: router {})", r.desc.name).into(),
        })
    }
}

/// The router's side: uploads, document fetches, link plan.
pub struct Presence {
    publisher: Publisher,
    follower: Follower,
    signer: DescriptorSigner,
    plan: LinkPlan,
    files: Option<Box<dyn FileWatch>>,
    next_file_check: Option<Instant>,
    /// The plan has not been applied yet (at the first tick, before the first upload).
    first: bool,
}

/// A router in the directory.
pub type Present<C> = Beside<C, Presence>;

impl Presence {
    pub fn new(
        publisher: Publisher,
        follower: Follower,
        signer: DescriptorSigner,
        plan: LinkPlan,
        files: Option<Box<dyn FileWatch>>,
    ) -> Presence {
        Presence { publisher, follower, signer, plan, files, next_file_check: None, first: true }
    }

    pub fn publisher(&self) -> &Publisher {
        &self.publisher
    }

    /// Add what the plan wants and follow neighbours' new keys; sign and upload a new
    /// descriptor when neighbours were added or `rekeyed` (this router's key changed).
    fn apply<C: Linking>(&mut self, inner: &mut C, now: Now, rekeyed: bool) {
        let doc = self.follower.keeper().held();
        let have: Vec<SocketAddrV4> = inner.neighbor_keys().into_iter().map(|(a, _)| a).collect();
        let wanted = self.plan.wanted(self.signer.addr, &have, doc);
        let added = wanted.iter().filter(|n| inner.add_neighbor(now, n)).count();
        for addr in have {
            if let Some(n) = self.plan.key_for(addr, doc) {
                inner.set_neighbor_key(&n);
            }
        }
        if added == 0 && !rekeyed {
            return;
        }
        let neighbors: Vec<SocketAddrV4> = inner.neighbor_keys().into_iter().map(|(a, _)| a).collect();
        match self.signer.sign(self.follower.unix(now), neighbors.clone()) {
            Ok(text) if added > 0 => {
                info!("links changed ({added} added, {} in all): uploading a new descriptor", neighbors.len());
                self.publisher.republish(now, text);
            }
            Ok(text) => {
                info!(
                    "new key {}: uploading a new descriptor",
                    super::Fingerprint::of(&self.signer.key.to_public_key())
                );
                self.publisher.republish(now, text);
            }
            Err(e) => warn!("{e}"),
        }
    }

    /// Read the files again when due; `true` when this router's key changed.
    fn check_files<C: Linking>(&mut self, inner: &mut C, now: Now) -> bool {
        if self.next_file_check.is_some_and(|t| now.mono < t) {
            return false;
        }
        self.next_file_check = Some(now.mono + FILE_CHECK);
        let changes = self.files.as_mut().map(|f| f.changes()).unwrap_or_default();
        let mut rekeyed = false;
        for change in changes {
            match change {
                FileChange::Neighbors(Ok(lines)) => {
                    let old = self.plan.lines.take().unwrap_or_default();
                    for gone in old.iter().filter(|o| !lines.iter().any(|l| l.addr == o.addr)) {
                        warn!("neighbours file: {} removed; a neighbour is only dropped at restart", gone.addr);
                    }
                    info!("neighbours file changed: {} line(s)", lines.len());
                    self.plan.lines = Some(lines);
                }
                FileChange::Neighbors(Err(e)) => {
                    warn!("neighbours file not read again: {e}; the neighbours stay as they are")
                }
                FileChange::Key(Ok(key)) => {
                    info!("key file changed: handshakes and onions now use the new key");
                    inner.replace_key(key.clone());
                    self.signer.key = key;
                    rekeyed = true;
                }
                FileChange::Key(Err(e)) => warn!("key file not read again: {e}; the router keeps its key"),
            }
        }
        rekeyed
    }
}

impl<C: Linking> Side<C> for Presence {
    fn outcome(&mut self, inner: &mut C, now: Now, outcome: Outcome<Tag>, _requests: &mut Requests) {
        match outcome.0 {
            Tag::Upload(_) => self.publisher.ended(now, &outcome),
            Tag::Document(_) => {
                if self.follower.ended(now, outcome) {
                    self.apply(inner, now, false);
                }
            }
        }
    }
    fn tick(&mut self, inner: &mut C, now: Now, requests: &mut Requests) {
        let file_due = self.next_file_check.map_or(true, |t| now.mono >= t);
        if self.first || file_due {
            self.first = false;
            let rekeyed = self.check_files(inner, now);
            self.apply(inner, now, rekeyed);
        }
        self.follower.start_due(now, requests);
        self.publisher.start_due(now, requests);
    }
    fn due(&self) -> Option<Instant> {
        [self.publisher.due(), self.follower.due(), self.next_file_check].into_iter().flatten().min()
    }
}

/// `router` present in the directory.
pub fn present<C: Linking>(router: C, presence: Presence) -> Present<C> {
    Beside::new(router, presence, MAX_DOCUMENT_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::document::tests::{router, validity};
    use crate::directory::document::DocumentKind;
    use crate::directory::sign::test_keys::key;

    /// r00 - r01 - r02, and r03 declaring a link to r01.
    fn doc() -> NetworkDocument {
        let routers = vec![router(0, &[1], 1), router(1, &[0, 2], 1), router(2, &[1], 1), router(3, &[1], 1)];
        NetworkDocument::new(DocumentKind::Consensus, validity(), routers)
    }

    fn addr(i: usize) -> SocketAddrV4 {
        router(i, &[], 1).desc.addr
    }

    fn line(i: usize, keyed: bool) -> NeighborLine {
        let known = keyed.then(|| Neighbor { addr: addr(i), key: key(i).to_public_key(), key_path: "k.pub".into() });
        NeighborLine { addr: addr(i), known }
    }

    fn addrs(v: &[Neighbor]) -> Vec<SocketAddrV4> {
        v.iter().map(|n| n.addr).collect()
    }

    #[test]
    fn keyless_lines_wait_for_the_document_and_declared_links_need_the_flag() {
        let d = doc();
        let plan = LinkPlan { lines: Some(vec![line(0, false), line(2, true)]), links_from_directory: false };
        assert_eq!(addrs(&plan.wanted(addr(1), &[], None)), vec![addr(2)], "the keyless line waits");
        assert_eq!(addrs(&plan.wanted(addr(1), &[], Some(&d))), vec![addr(0), addr(2)]);
        assert_eq!(addrs(&plan.wanted(addr(1), &[addr(0), addr(2)], Some(&d))), vec![], "nothing twice");
        let open = LinkPlan { links_from_directory: true, ..plan };
        assert_eq!(addrs(&open.wanted(addr(1), &[addr(0), addr(2)], Some(&d))), vec![addr(3)], "r03 declares r01");
    }

    #[test]
    fn without_a_file_every_listed_router_but_itself_is_offered_a_link() {
        let plan = LinkPlan { lines: None, links_from_directory: true };
        assert_eq!(addrs(&plan.wanted(addr(3), &[], Some(&doc()))), vec![addr(0), addr(1), addr(2)]);
        assert_eq!(addrs(&plan.wanted(addr(3), &[], None)), vec![], "no document, nothing to offer");
    }

    #[test]
    fn a_neighbour_key_follows_its_line_else_the_document() {
        let d = doc();
        let plan = LinkPlan { lines: Some(vec![line(0, false), line(2, true)]), links_from_directory: false };
        assert_eq!(plan.key_for(addr(0), Some(&d)).map(|n| n.key), Some(key(0).to_public_key()));
        assert!(plan.key_for(addr(0), None).is_none());
        assert_eq!(plan.key_for(addr(2), None).map(|n| n.key), Some(key(2).to_public_key()), "the line's key");
        assert!(plan.key_for(addr(9), Some(&d)).is_none());
    }

    #[test]
    fn each_signed_descriptor_is_published_later_than_the_last() {
        let mut s = DescriptorSigner {
            name: "r1".into(),
            addr: addr(1),
            key: Arc::new(key(1)),
            ciphers: vec![0],
            exit_policy: vec!["accept *:*".into()],
            last_published: 0,
        };
        let a = super::super::SignedDescriptor::parse(s.sign(500, vec![addr(0)]).unwrap().as_bytes()).unwrap();
        let b = super::super::SignedDescriptor::parse(s.sign(500, vec![addr(0), addr(2)]).unwrap().as_bytes()).unwrap();
        assert_eq!((a.desc.published, b.desc.published), (500, 501));
        assert_eq!(b.desc.neighbors, vec![addr(0), addr(2)]);
    }
}
