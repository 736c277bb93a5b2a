//! Changes to a running router (a router following the directory, docs/directory.md "Links and
//! keys that change while a router runs"): a neighbour added, a neighbour's key replaced, this
//! router's own key replaced — new handshakes and onions use it, links already keyed stay up.
//! The link table does its part (links/added.rs); neighbours are never removed at run time.

use std::net::SocketAddrV4;
use std::sync::Arc;

use log::info;

use super::core::Router;
use crate::config::neighbors::Neighbor;
use crate::crypto::{RsaPrivateKey, RsaPublicKey};
use crate::event::Now;

impl Router {
    /// Every neighbour's address and key, linked or not, in the order they were added.
    pub fn neighbor_keys(&self) -> Vec<(SocketAddrV4, RsaPublicKey)> {
        self.links.neighbor_keys()
    }

    /// Add a neighbour; `false` (nothing done) when it is this router or already a neighbour.
    pub fn add_neighbor(&mut self, now: Now, n: &Neighbor) -> bool {
        let added = self.links.add_neighbor(now, n, self.started, &mut self.ids, &mut self.actions);
        if added {
            info!("neighbour {} added, key from {}", n.addr, n.key_path.display());
        }
        added
    }

    /// Replace a neighbour's key (its next handshake expects it); `false` when `n` is not a
    /// neighbour or its key is unchanged.
    pub fn set_neighbor_key(&mut self, n: &Neighbor) -> bool {
        let changed = self.links.set_neighbor_key(n);
        if changed {
            info!("neighbour {}: new key, from {}", n.addr, n.key_path.display());
        }
        changed
    }

    /// Replace this router's own key: handshakes and onions from now on use it.
    pub fn replace_key(&mut self, key: Arc<RsaPrivateKey>) {
        self.links.replace_key(key.clone());
        self.cfg.key = key;
    }
}
