//! Changes to a running router (a router following the directory, docs/directory.md "Links and
//! keys that change while a router runs"): a neighbour added — the link comes up by the usual
//! rule, the higher address dials, the lower one sends a wake-up so that a higher neighbour
//! already waiting for it redials at once; a neighbour's key replaced — its next handshake uses
//! the new key; this router's own key replaced — new handshakes and onions use it, links
//! already keyed stay up. Neighbours are never removed at run time.

use std::net::SocketAddrV4;
use std::sync::Arc;

use log::info;

use super::core::Router;
use super::links::NeighborState;
use crate::config::neighbors::Neighbor;
use crate::crypto::{RsaPrivateKey, RsaPublicKey};
use crate::event::Now;

impl Router {
    /// Every neighbour's address and key, linked or not, in the order they were added.
    pub fn neighbor_keys(&self) -> Vec<(SocketAddrV4, RsaPublicKey)> {
        self.neighbors.iter().map(|n| (n.addr, n.key.clone())).collect()
    }

    /// Add a neighbour; `false` (nothing done) when it is this router or already a neighbour.
    pub fn add_neighbor(&mut self, now: Now, n: &Neighbor) -> bool {
        if n.addr == self.cfg.identity || self.neighbors.iter().any(|m| m.addr == n.addr) {
            return false;
        }
        info!("neighbour {} added, key from {}", n.addr, n.key_path.display());
        self.neighbors.push(NeighborState::new(n, self.cfg.identity));
        let i = self.neighbors.len() - 1;
        if self.started {
            if self.neighbors[i].we_dial {
                self.neighbors[i].redial.at(now.mono);
            } else {
                self.dial(now, i, true);
            }
        }
        true
    }

    /// Replace a neighbour's key (its next handshake expects it); `false` when `n` is not a
    /// neighbour or its key is unchanged.
    pub fn set_neighbor_key(&mut self, n: &Neighbor) -> bool {
        let Some(m) = self.neighbors.iter_mut().find(|m| m.addr == n.addr && m.key != n.key) else { return false };
        info!("neighbour {}: new key, from {}", n.addr, n.key_path.display());
        m.key = n.key.clone();
        true
    }

    /// Replace this router's own key: handshakes and onions from now on use it.
    pub fn replace_key(&mut self, key: Arc<RsaPrivateKey>) {
        self.cfg.key = key;
    }
}
