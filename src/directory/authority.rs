//! A directory authority's state machine: descriptors in, reachability checks, votes, the
//! consensus and its signatures out. No sockets and no clock: the caller passes the wall time in
//! milliseconds and carries out the [`Task`]s (`server.rs` does, over the reactor).
//!
//! Period k starts at k·I (I = the interval; every authority uses the same one):
//! - at k·I: check every held router's reachability;
//! - at k·I + I/4: vote (the routers whose last check succeeded), fetch the others' votes;
//! - at k·I + I/2: compute the consensus of the votes held, sign it, fetch the others'
//!   signed copies and add their signatures when they signed the same bytes (retried at
//!   5I/8, 6I/8, 7I/8);
//! - as soon as a majority of all listed authorities has signed it, it is `GET /network`'s answer.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddrV4;
use std::sync::Arc;

use log::{info, warn};
use rsa::{RsaPrivateKey, RsaPublicKey};
use thiserror::Error;

use super::authorities::Authorities;
use super::consensus;
use super::descriptor::SignedDescriptor;
use super::document::{DocumentKind, NetworkDocument, Validity, MAX_ROUTERS};
use super::sign::Fingerprint;
use super::text::ParseError;

/// How far in the future a descriptor's `published` may be (clock skew).
pub const MAX_FUTURE_SKEW_SECS: u64 = 600;
/// A held router unreachable for this many periods in a row is forgotten.
pub const FORGET_AFTER_FAILURES: u32 = 10;
/// A consensus stays valid this many intervals after its valid-after.
pub const VALID_INTERVALS: u64 = 3;

/// Why a descriptor upload was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DescriptorRefusal {
    #[error("malformed or badly signed: {0}")]
    Parse(#[from] ParseError),
    #[error("router {name}: published {published} is older than the descriptor held ({held}): replayed")]
    Replayed { name: String, published: u64, held: u64 },
    #[error("router {name}: published {published} is in the future (now {now})")]
    Future { name: String, published: u64, now: u64 },
    #[error("directory full ({MAX_ROUTERS} routers)")]
    Full,
}

/// Why a reachability check failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CheckFailure {
    #[error("cannot connect: {0}")]
    Unreachable(String),
    #[error("the address answered with another key (STS signature does not verify)")]
    WrongKey,
    #[error("handshake failed: {0}")]
    Handshake(String),
    #[error("no answer within {0} ms")]
    Timeout(u64),
}

/// What the driver must do for the authority.
#[derive(Debug, Clone, PartialEq)]
pub enum Task {
    /// Complete an STS handshake with `addr` as an anonymous client, expecting `key`; report
    /// with [`AuthorityState::check_done`] (by `deadline_ms` at the latest).
    Check { id: u64, addr: SocketAddrV4, key: RsaPublicKey, deadline_ms: u64 },
    /// `GET /vote` from authority `peer` (index in the authorities file); report with
    /// [`AuthorityState::vote_fetched`].
    FetchVote { peer: usize },
    /// `GET /pending` from authority `peer`; report with [`AuthorityState::pending_fetched`].
    FetchPending { peer: usize },
    /// The state worth keeping across a restart changed: save [`AuthorityState::saved_state`].
    Save,
}

#[derive(Debug, Clone)]
struct Held {
    desc: SignedDescriptor,
    /// The last check's result (`None` until the first completes).
    reachable: Option<bool>,
    failures: u32,
}

/// The authority's state.
pub struct AuthorityState {
    key: Arc<RsaPrivateKey>,
    me: usize,
    auths: Authorities,
    interval_ms: u64,
    held: BTreeMap<Fingerprint, Held>,
    /// Checks in flight: id → (router, descriptor being checked, is it a new upload).
    checks: BTreeMap<u64, (Fingerprint, SignedDescriptor, bool)>,
    next_check: u64,
    period: u64,
    /// Next phase step within the period (0 = checks, 1 = vote, 2 = consensus, 3.. = retries).
    step: u32,
    votes: BTreeMap<usize, NetworkDocument>,
    pending: Option<NetworkDocument>,
    published: Option<NetworkDocument>,
    tasks: VecDeque<Task>,
}

/// Phase offsets within a period, in eighths of the interval.
const STEPS: [u64; 7] = [0, 2, 3, 4, 5, 6, 7];

impl AuthorityState {
    /// `me` is this authority's index in `auths` (its key's entry).
    pub fn new(key: Arc<RsaPrivateKey>, auths: Authorities, interval_ms: u64, now_ms: u64) -> Result<Self, String> {
        let fp = Fingerprint::of(&key.to_public_key());
        let me = auths
            .list
            .iter()
            .position(|a| a.fingerprint == fp)
            .ok_or_else(|| format!("this authority's key ({fp}) is not in the authorities file"))?;
        if interval_ms < 2000 {
            return Err("the interval must be at least 2s".into());
        }
        let period = now_ms / interval_ms;
        let step =
            STEPS.iter().position(|&s| now_ms < period * interval_ms + s * interval_ms / 8).unwrap_or(STEPS.len())
                as u32;
        let (held, checks, votes, tasks) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new(), VecDeque::new());
        let s = AuthorityState {
            key,
            me,
            auths,
            interval_ms,
            held,
            checks,
            next_check: 0,
            period,
            step,
            votes,
            pending: None,
            published: None,
            tasks,
        };
        Ok(s)
    }

    /// Restore descriptors and the last consensus saved by [`AuthorityState::saved_state`]
    /// (anything that no longer parses or verifies is dropped with a log line).
    pub fn restore(&mut self, descriptors: &str, consensus: Option<&str>, now_ms: u64) {
        for chunk in descriptors.split("ork-router-descriptor 1\n").skip(1) {
            match SignedDescriptor::parse(format!("ork-router-descriptor 1\n{chunk}").as_bytes()) {
                Ok(d) => {
                    let held = Held { desc: d, reachable: None, failures: 0 };
                    self.held.insert(held.desc.desc.fingerprint(), held);
                }
                Err(e) => warn!("saved descriptor dropped: {e}"),
            }
        }
        if let Some(text) = consensus {
            match NetworkDocument::parse(text.as_bytes()).map_err(|e| e.to_string()).and_then(|d| {
                d.check(&self.auths, now_ms / 1000, None).map_err(|e| e.to_string())?;
                Ok(d)
            }) {
                Ok(d) => self.published = Some(d),
                Err(e) => info!("saved consensus not used: {e}"),
            }
        }
    }

    /// The held descriptors and the published consensus, for the state directory.
    pub fn saved_state(&self) -> (String, Option<String>) {
        let descs = self.held.values().map(|h| h.desc.text.as_str()).collect();
        (descs, self.published.as_ref().map(NetworkDocument::to_text))
    }

    pub fn authorities(&self) -> &Authorities {
        &self.auths
    }

    /// The next task for the driver.
    pub fn poll_task(&mut self) -> Option<Task> {
        self.tasks.pop_front()
    }

    /// When [`AuthorityState::tick`] next has something to do.
    pub fn next_wakeup_ms(&self) -> u64 {
        let base = self.period * self.interval_ms;
        match STEPS.get(self.step as usize) {
            Some(s) => base + s * self.interval_ms / 8,
            None => base + self.interval_ms,
        }
    }

    /// Time passed: run the phases that are due.
    pub fn tick(&mut self, now_ms: u64) {
        let current = now_ms / self.interval_ms;
        if current > self.period {
            self.period = current;
            self.step = 0;
            self.votes.clear();
            self.pending = None;
        }
        while self.step < STEPS.len() as u32 && now_ms >= self.next_wakeup_ms() {
            let step = self.step;
            self.step += 1;
            match step {
                0 => self.start_checks(now_ms),
                1 => self.vote(),
                2 => self.fetch_missing_votes(),
                3 => self.compute(),
                _ => self.fetch_signatures(),
            }
        }
    }

    fn start_checks(&mut self, now_ms: u64) {
        let targets: Vec<(Fingerprint, SignedDescriptor)> =
            self.held.iter().map(|(f, h)| (*f, h.desc.clone())).collect();
        for (fp, desc) in targets {
            self.check(fp, desc, false, now_ms);
        }
    }

    fn check(&mut self, fp: Fingerprint, desc: SignedDescriptor, new: bool, now_ms: u64) {
        self.next_check += 1;
        let id = self.next_check;
        let deadline_ms = now_ms + (self.interval_ms / 4).min(10_000);
        self.tasks.push_back(Task::Check { id, addr: desc.desc.addr, key: desc.desc.key.clone(), deadline_ms });
        self.checks.insert(id, (fp, desc, new));
    }

    fn validity(&self) -> Validity {
        let i = self.interval_ms;
        let valid_after = (self.period * i + i / 2) / 1000;
        let fresh_until = valid_after + (i / 1000).max(1);
        Validity {
            period: self.period,
            valid_after,
            fresh_until,
            valid_until: valid_after + VALID_INTERVALS * (i / 1000).max(1),
        }
    }

    fn vote(&mut self) {
        let routers = self.held.values().filter(|h| h.reachable == Some(true)).map(|h| h.desc.clone()).collect();
        let mut vote = NetworkDocument::new(DocumentKind::Vote, self.validity(), routers);
        if !vote.sign(&self.key) {
            warn!("cannot sign our vote");
            return;
        }
        self.votes.insert(self.me, vote);
        self.fetch_missing_votes();
    }

    fn fetch_missing_votes(&mut self) {
        for peer in 0..self.auths.list.len() {
            if !self.votes.contains_key(&peer) {
                self.tasks.push_back(Task::FetchVote { peer });
            }
        }
    }

    fn compute(&mut self) {
        let votes: Vec<&NetworkDocument> = self.votes.values().collect();
        let mut doc = consensus::compute(&votes, self.auths.list.len(), self.validity());
        if !doc.sign(&self.key) {
            warn!("cannot sign the consensus");
            return;
        }
        info!(
            "period {}: consensus of {} votes lists {} routers; collecting signatures",
            self.period,
            votes.len(),
            doc.routers.len()
        );
        self.pending = Some(doc);
        self.maybe_publish();
        self.fetch_signatures();
    }

    fn fetch_signatures(&mut self) {
        let Some(p) = &self.pending else { return };
        let have = p.signers(&self.auths);
        for (peer, a) in self.auths.list.iter().enumerate() {
            if !have.contains(&a.fingerprint) {
                self.tasks.push_back(Task::FetchPending { peer });
            }
        }
    }

    fn maybe_publish(&mut self) {
        let Some(p) = &self.pending else { return };
        let signers = p.signers(&self.auths).len();
        let newer = self.published.as_ref().map_or(true, |d| {
            d.validity.valid_after < p.validity.valid_after || d.signatures.len() < p.signatures.len()
        });
        if signers >= self.auths.majority() && newer {
            if self.published.as_ref().map(|d| d.validity.period) != Some(p.validity.period) {
                info!(
                    "period {}: consensus signed by {signers} of {} authorities; published",
                    self.period,
                    self.auths.list.len()
                );
            }
            self.published = Some(p.clone());
            self.tasks.push_back(Task::Save);
        }
    }

    /// A router uploaded a descriptor. Accepted ones are checked before they count.
    pub fn post_descriptor(&mut self, bytes: &[u8], now_ms: u64) -> Result<String, DescriptorRefusal> {
        let d = SignedDescriptor::parse(bytes)?;
        let fp = d.desc.fingerprint();
        let name = d.desc.name.clone();
        let now = now_ms / 1000;
        if d.desc.published > now + MAX_FUTURE_SKEW_SECS {
            return Err(DescriptorRefusal::Future { name, published: d.desc.published, now });
        }
        if let Some(h) = self.held.get(&fp) {
            if d.desc.published < h.desc.desc.published {
                return Err(DescriptorRefusal::Replayed {
                    name,
                    published: d.desc.published,
                    held: h.desc.desc.published,
                });
            }
            if d.desc.published == h.desc.desc.published && d.text == h.desc.text {
                return Ok(format!("router {name}: descriptor already held"));
            }
        } else if self.held.len() >= MAX_ROUTERS {
            return Err(DescriptorRefusal::Full);
        }
        let addr = d.desc.addr;
        self.check(fp, d, true, now_ms);
        Ok(format!("router {name}: descriptor accepted; checking that {addr} answers with its key"))
    }

    /// A reachability check finished.
    pub fn check_done(&mut self, id: u64, result: Result<(), CheckFailure>) {
        let Some((fp, desc, new)) = self.checks.remove(&id) else { return };
        let name = desc.desc.name.clone();
        let addr = desc.desc.addr;
        match (result, new) {
            (Ok(()), true) => {
                info!("router {name} ({addr}): reachable with its key; descriptor held");
                if self.held.get(&fp).map_or(true, |h| h.desc.desc.published <= desc.desc.published) {
                    self.held.insert(fp, Held { desc, reachable: Some(true), failures: 0 });
                    self.tasks.push_back(Task::Save);
                }
            }
            (Err(e), true) => warn!("router {name}: descriptor refused: its address {addr}: {e}"),
            (result, false) => {
                let Some(h) = self.held.get_mut(&fp) else { return };
                if h.desc.text != desc.text {
                    return; // superseded while the check ran
                }
                match result {
                    Ok(()) => {
                        h.reachable = Some(true);
                        h.failures = 0;
                    }
                    Err(e) => {
                        if h.reachable != Some(false) {
                            warn!("router {name} ({addr}) not running: {e}");
                        }
                        h.reachable = Some(false);
                        h.failures += 1;
                        if h.failures >= FORGET_AFTER_FAILURES {
                            info!("router {name}: unreachable for {} periods; forgotten", h.failures);
                            self.held.remove(&fp);
                            self.tasks.push_back(Task::Save);
                        }
                    }
                }
            }
        }
    }

    /// A peer's vote arrived (or its fetch failed: `Err` with the reason, logged).
    pub fn vote_fetched(&mut self, peer: usize, body: Result<Vec<u8>, String>) {
        let Some(a) = self.auths.list.get(peer) else { return };
        let addr = a.addr;
        let vote = body.and_then(|b| NetworkDocument::parse(&b).map_err(|e| e.to_string())).and_then(|v| {
            if v.kind != DocumentKind::Vote || v.signers(&self.auths) != [a.fingerprint] {
                return Err("not a vote signed by that authority alone".into());
            }
            if v.validity.period != self.period {
                return Err(format!("vote for period {}, not {}", v.validity.period, self.period));
            }
            Ok(v)
        });
        match vote {
            Ok(v) if self.step <= 3 => {
                self.votes.insert(peer, v);
            }
            Ok(_) => {}
            Err(e) => info!("vote of authority {addr}: {e}"),
        }
    }

    /// A peer's signed copy of its consensus arrived: add its signatures when it signed our bytes.
    pub fn pending_fetched(&mut self, peer: usize, body: Result<Vec<u8>, String>) {
        let Some(a) = self.auths.list.get(peer) else { return };
        let addr = a.addr;
        let Some(mine) = &mut self.pending else { return };
        let theirs = match body.and_then(|b| NetworkDocument::parse(&b).map_err(|e| e.to_string())) {
            Ok(d) => d,
            Err(e) => return info!("consensus of authority {addr}: {e}"),
        };
        if theirs.body() != mine.body() {
            if theirs.validity.period == mine.validity.period {
                warn!(
                    "authority {addr} computed a different consensus for period {} (it saw other votes)",
                    mine.validity.period
                );
            }
            return;
        }
        for (fp, sig) in &theirs.signatures {
            if !mine.signatures.iter().any(|(f, _)| f == fp) {
                let auths = &self.auths;
                if auths.by_fingerprint(fp).is_some_and(|e| super::sign::verify(&e.key, mine.body().as_bytes(), sig)) {
                    mine.add_signature(*fp, sig.clone());
                }
            }
        }
        self.maybe_publish();
    }

    /// `GET /vote`.
    pub fn current_vote(&self) -> Option<String> {
        self.votes.get(&self.me).map(NetworkDocument::to_text)
    }

    /// `GET /pending`: our consensus for this period with the signatures collected so far.
    pub fn pending(&self) -> Option<String> {
        self.pending.as_ref().map(NetworkDocument::to_text)
    }

    /// `GET /network`: the latest consensus a majority signed.
    pub fn published(&self) -> Option<&NetworkDocument> {
        self.published.as_ref()
    }

    /// Routers held and whether their last check succeeded (for `GET /status` and tests).
    pub fn held(&self) -> Vec<(String, Option<bool>)> {
        self.held.values().map(|h| (h.desc.desc.name.clone(), h.reachable)).collect()
    }
}
