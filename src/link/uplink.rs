//! The link an onion proxy or stand-alone funnel keeps to the network as an anonymous client
//! (protocol.md §3, §8): a [`LinkEnd`] dialled without authenticating itself, kept alive by PADDING,
//! redialled with the shared [`Redial`] backoff, its outgoing cells batched into one write per
//! wake-up. Every random draw comes from the owner's CSPRNG.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use log::{info, warn};
use rand::{CryptoRng, RngCore};

use super::{DestroyIn, LinkEnd, LinkLoss, LinkTimers, Redial, TimeoutLog, Upkeep};
use crate::crypto::RsaPublicKey;
use crate::event::{Action, Now, SockId, SockIds};
use crate::wire::{Aci, Cell};

/// A link that closes within this after its handshake counts as a failed attempt (protocol.md §3).
pub const STABLE_AFTER: Duration = Duration::from_secs(60);

/// What became of an event on the uplink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UplinkEvent {
    /// The link is keyed and can carry cells (cells may have arrived with it).
    Up,
    /// Cells arrived.
    Cells,
    /// The link failed or closed; every ACI on it is free.
    Down(LinkLoss),
}

/// The anonymous uplink.
pub struct Uplink {
    pub addr: SocketAddr,
    key: RsaPublicKey,
    timers: LinkTimers,
    link: Option<(SockId, LinkEnd)>,
    redial: Redial,
    timeouts: TimeoutLog,
    /// Cells received and not yet taken.
    pub cells: Vec<Cell>,
}

impl Uplink {
    /// An uplink to `addr` (whose key is `key`), dialled at the first tick.
    pub fn new(addr: SocketAddr, key: RsaPublicKey, now: Now) -> Uplink {
        let mut redial = Redial::default();
        redial.at(now.mono);
        Uplink {
            addr,
            key,
            timers: LinkTimers::default(),
            link: None,
            redial,
            timeouts: TimeoutLog::default(),
            cells: Vec::new(),
        }
    }

    /// Other link timers (tests).
    pub fn with_timers(mut self, timers: LinkTimers) -> Uplink {
        self.timers = timers;
        self
    }

    pub fn is_open(&self) -> bool {
        self.link.as_ref().is_some_and(|(_, l)| l.is_open())
    }

    pub fn sock(&self) -> Option<SockId> {
        self.link.as_ref().map(|(s, _)| *s)
    }

    /// When the uplink wants a tick: the next dial, handshake deadline, PADDING or liveness.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.link {
            Some((_, l)) => Some(l.next_timer()),
            None => self.redial.next(),
        }
    }

    /// Dial when due; keep the link alive and give it up when it is dead.
    pub fn tick(
        &mut self,
        now: Now,
        ids: &mut SockIds,
        actions: &mut VecDeque<Action>,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Option<UplinkEvent> {
        let Some((_, link)) = &mut self.link else {
            if self.redial.due(now.mono) {
                let sock = ids.fresh();
                self.link = Some((sock, LinkEnd::dialling(self.addr, None, now.mono).with_timers(self.timers)));
                self.redial.dialling();
                actions.push_back(Action::Connect { sock, addr: self.addr, privileged: false });
            }
            return None;
        };
        match link.upkeep(now.mono, rng) {
            Upkeep::Lost(loss) => Some(self.lost(now, loss, actions, rng)),
            Upkeep::Pad(n) => {
                for _ in 0..n {
                    link.encode(&Cell::padding(rng), now.mono);
                }
                None
            }
        }
    }

    /// The TCP connection completed or failed.
    pub fn connected(
        &mut self,
        now: Now,
        result: std::io::Result<()>,
        rng: &mut (impl RngCore + CryptoRng),
        actions: &mut VecDeque<Action>,
    ) -> Option<UplinkEvent> {
        let (_, link) = self.link.as_mut()?;
        if let Err(e) = result {
            warn!("uplink: connect to {} failed: {e}", self.addr);
            return Some(self.lost(now, LinkLoss::ConnectFailed, actions, rng));
        }
        let SocketAddr::V4(peer) = self.addr else {
            warn!("uplink: {} is not IPv4 (routers are)", self.addr);
            return Some(self.lost(now, LinkLoss::ConnectFailed, actions, rng));
        };
        if let Err(loss) = link.connected(now.mono, None, peer, self.key.clone(), rng) {
            return Some(self.lost(now, loss, actions, rng));
        }
        None
    }

    /// Bytes from the uplink socket; decoded cells land in `self.cells`.
    pub fn received(
        &mut self,
        now: Now,
        data: &[u8],
        actions: &mut VecDeque<Action>,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Option<UplinkEvent> {
        let (_, link) = self.link.as_mut()?;
        match link.received(now.mono, data, &|_| None, &mut self.cells) {
            Err(loss) => Some(self.lost(now, loss, actions, rng)),
            Ok(Some(_)) => {
                info!("uplink to {} keyed", self.addr);
                Some(UplinkEvent::Up)
            }
            Ok(None) if link.is_open() => Some(UplinkEvent::Cells),
            Ok(None) => None,
        }
    }

    /// The socket closed or failed.
    pub fn lost(
        &mut self,
        now: Now,
        loss: LinkLoss,
        actions: &mut VecDeque<Action>,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> UplinkEvent {
        let Some((sock, link)) = self.link.take() else { return UplinkEvent::Down(loss) };
        actions.push_back(Action::Close { sock });
        let delay = self.redial.lost(now.mono, link.established(), STABLE_AFTER, rng);
        if loss == LinkLoss::HandshakeTimeout {
            self.timeouts.timed_out(now.mono, link.log_address(), "uplink");
        } else {
            warn!("uplink to {}: {loss}; redialling in {delay:?}", self.addr);
        }
        UplinkEvent::Down(loss)
    }

    /// Queue a cell (link-encrypted now, written at the next flush); false if not keyed.
    pub fn send(&mut self, cell: &Cell, now: Now) -> bool {
        self.link.as_mut().is_some_and(|(_, l)| l.encode(cell, now.mono))
    }

    /// Bytes waiting to be handed to the socket.
    pub fn pending(&self) -> usize {
        self.link.as_ref().map_or(0, |(_, l)| l.pending())
    }

    /// Hand the batch to the driver.
    pub fn flush(&mut self, actions: &mut VecDeque<Action>) {
        if let Some((sock, link)) = &mut self.link {
            if let Some(data) = link.take_output() {
                actions.push_back(Action::Send { sock: *sock, data });
            }
        }
    }

    /// A fresh ACI of the low half (an anonymous client's), if the link is keyed.
    pub fn allocate_aci(&mut self, rng: &mut (impl RngCore + CryptoRng)) -> Option<Aci> {
        let (_, link) = self.link.as_mut().filter(|(_, l)| l.is_open())?;
        link.allocate_aci(rng)
    }

    /// Send DESTROY on `aci` and wait for its acknowledgement; false if the link is down.
    pub fn send_destroy(&mut self, aci: Aci, now: Now, rng: &mut impl RngCore) -> bool {
        self.link.as_mut().is_some_and(|(_, l)| l.send_destroy(aci, now.mono, rng))
    }

    /// A DESTROY arrived on `aci`, `live` or not (see [`LinkEnd::destroy_received`]).
    pub fn destroy_received(&mut self, aci: Aci, live: bool, now: Now, rng: &mut impl RngCore) -> DestroyIn {
        self.link.as_mut().map_or(DestroyIn::Ignored, |(_, l)| l.destroy_received(aci, live, now.mono, rng))
    }

    /// Whether we sent DESTROY on `aci` and wait for the acknowledgement.
    pub fn is_awaiting_ack(&self, aci: Aci) -> bool {
        self.link.as_ref().is_some_and(|(_, l)| l.is_awaiting_ack(aci))
    }

    /// ACIs of ours in use on the uplink (connections and unfinished DESTROY handshakes).
    pub fn acis_in_use(&self) -> usize {
        self.link.as_ref().map_or(0, |(_, l)| l.acis_in_use())
    }
}
