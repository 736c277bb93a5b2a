//! Neighbours added while the router runs (a router following the directory learns of a new
//! router that declares a link to it): the new neighbour joins the list, and the link comes up
//! by the usual rule — the higher address dials; the lower one sends a wake-up so that a higher
//! neighbour already waiting for it redials at once. Neighbours are never removed at run time.

use std::net::SocketAddrV4;

use log::info;

use super::core::Router;
use super::links::NeighborState;
use crate::config::neighbors::Neighbor;
use crate::event::Now;

impl Router {
    /// Every neighbour's address, linked or not, in the order they were added.
    pub fn neighbor_addrs(&self) -> Vec<SocketAddrV4> {
        self.neighbors.iter().map(|n| n.addr).collect()
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
}
