//! A link end's ACIs and the DESTROY handshake on them (protocol.md §6): this end allocates
//! from its half, frees an ACI only once a DESTROY is acknowledged, and acknowledges the peer's.

use std::time::Instant;

use rand::{CryptoRng, RngCore};

use super::{DestroyIn, LinkEnd};
use crate::wire::{Aci, Cell};

impl LinkEnd {
    /// A fresh ACI of this end's half, at random among the free ones.
    pub fn allocate_aci(&mut self, rng: &mut (impl RngCore + CryptoRng)) -> Option<Aci> {
        self.aci.allocate(rng)
    }

    /// Whether `aci` is in this end's half (the peer may not allocate it).
    pub fn is_ours(&self, aci: Aci) -> bool {
        self.aci.is_ours(aci)
    }

    /// Keep an ACI of our half out of our allocations (a peer used it wrongly).
    pub fn mark_used(&mut self, aci: Aci) {
        self.aci.mark_used(aci);
    }

    /// Free an ACI of our half (a no-op for the peer's half).
    pub fn release_aci(&mut self, aci: Aci) {
        if self.aci.is_ours(aci) {
            self.aci.release(aci);
        }
    }

    /// ACIs of our half in use, including those whose DESTROY handshake is not complete.
    pub fn acis_in_use(&self) -> usize {
        self.aci.in_use()
    }

    /// ACIs on which we sent DESTROY and wait for the acknowledgement.
    pub fn awaiting_ack(&self) -> usize {
        self.awaiting_ack.len()
    }

    /// Send DESTROY on `aci` now and wait for the acknowledgement; false if the link is down
    /// (then every ACI is free anyway).
    pub fn send_destroy(&mut self, aci: Aci, now: Instant, rng: &mut impl RngCore) -> bool {
        let sent = self.encode(&Cell::destroy(aci, rng), now);
        if sent {
            self.awaiting_ack.insert(aci);
        }
        sent
    }

    /// A DESTROY arrived on `aci`, which the owner says is `live` (carries a connection): the
    /// acknowledgement of ours, or the peer ending the connection, acknowledged here. The ACI
    /// is free afterwards either way.
    pub fn destroy_received(&mut self, aci: Aci, live: bool, now: Instant, rng: &mut impl RngCore) -> DestroyIn {
        let outcome = if self.awaiting_ack.remove(&aci) {
            DestroyIn::Acknowledged
        } else if live {
            self.encode(&Cell::destroy(aci, rng), now);
            DestroyIn::Ended
        } else {
            return DestroyIn::Ignored;
        };
        self.release_aci(aci);
        outcome
    }

    /// Whether we sent DESTROY on `aci` and wait for the acknowledgement.
    pub fn is_awaiting_ack(&self, aci: Aci) -> bool {
        self.awaiting_ack.contains(&aci)
    }
}
