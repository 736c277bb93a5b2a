//! The link table changed while the router runs (`Router`'s reconfigure.rs): a neighbour added,
//! a neighbour's key replaced, this router's own key replaced. Neighbours are never removed.

use std::collections::VecDeque;
use std::net::SocketAddrV4;
use std::sync::Arc;

use super::{LinkTable, NeighborState};
use crate::config::neighbors::Neighbor;
use crate::crypto::{RsaPrivateKey, RsaPublicKey};
use crate::event::{Action, Now, SockIds};
use crate::link::aci::id_bytes;
use crate::link::Redial;

impl LinkTable {
    /// Every neighbour's address and key, in the order they were added.
    pub fn neighbor_keys(&self) -> Vec<(SocketAddrV4, RsaPublicKey)> {
        self.neighbors.iter().map(|n| (n.addr, n.key.clone())).collect()
    }

    /// Add a neighbour (`false`: this router or already one). Once `started`, the link comes up
    /// by the usual rule: the higher address dials; the lower sends a wake-up so that a higher
    /// neighbour already waiting for it redials at once.
    pub fn add_neighbor(
        &mut self,
        now: Now,
        n: &Neighbor,
        started: bool,
        ids: &mut SockIds,
        out: &mut VecDeque<Action>,
    ) -> bool {
        let me = self.settings.identity;
        if n.addr == me || self.neighbors.iter().any(|m| m.addr == n.addr) {
            return false;
        }
        let we_dial = id_bytes(me) > id_bytes(n.addr);
        let state = NeighborState {
            addr: n.addr,
            key: n.key.clone(),
            we_dial,
            link: None,
            attempt: None,
            redial: Redial::default(),
        };
        self.neighbors.push(state);
        let i = self.neighbors.len() - 1;
        if started {
            if we_dial {
                self.neighbors[i].redial.at(now.mono);
            } else {
                self.dial(now, i, true, ids, out);
            }
        }
        true
    }

    /// Replace a neighbour's key (its next handshake expects it); `false` when `n` is not a
    /// neighbour or its key is unchanged.
    pub fn set_neighbor_key(&mut self, n: &Neighbor) -> bool {
        let Some(m) = self.neighbors.iter_mut().find(|m| m.addr == n.addr && m.key != n.key) else { return false };
        m.key = n.key.clone();
        true
    }

    /// Handshakes from now on use `key`; links already keyed stay up.
    pub fn replace_key(&mut self, key: Arc<RsaPrivateKey>) {
        self.settings.key = key;
    }
}
