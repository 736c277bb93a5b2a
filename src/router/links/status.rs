//! What the link table tells the rest of the router about its links: the status file's view,
//! counters, key-log tags.

use std::net::SocketAddrV4;

use super::LinkTable;
use crate::event::SockId;

/// A cell-carrying link as the status file shows it.
pub(in crate::router) struct LinkView {
    pub sock: SockId,
    pub peer: String,
    pub end_established: Option<std::time::Instant>,
    pub cells_in: u64,
    pub cells_out: u64,
    pub unwritten: usize,
}

impl LinkTable {
    /// The driver's count of unwritten bytes on a link's socket.
    pub(in crate::router) fn set_unwritten(&mut self, sock: SockId, bytes: usize) {
        if let Some(l) = self.links.get_mut(&sock) {
            l.unwritten = bytes;
        }
    }

    /// A link's key-log tag ("-" when unknown).
    pub(in crate::router) fn key_log_tag(&self, sock: SockId) -> String {
        self.links.get(&sock).and_then(|l| l.key_log_tag.clone()).unwrap_or_else(|| "-".into())
    }

    /// The cell-carrying links, for the status file.
    pub(in crate::router) fn carriers(&self) -> impl Iterator<Item = LinkView> + '_ {
        self.links.iter().filter(|(_, l)| l.is_carrier()).map(|(sock, l)| LinkView {
            sock: *sock,
            peer: l.describe(),
            end_established: l.end.established(),
            cells_in: l.end.cells_in(),
            cells_out: l.end.cells_out(),
            unwritten: l.unwritten,
        })
    }

    /// ACIs this router allocated on its links and has not freed.
    pub(in crate::router) fn acis_in_use(&self) -> usize {
        self.links.values().map(|l| l.end.acis_in_use()).sum()
    }

    /// Identities of neighbours with an open cell-carrying link.
    pub(in crate::router) fn linked_neighbors(&self) -> Vec<SocketAddrV4> {
        self.neighbors.iter().filter(|n| n.link.is_some()).map(|n| n.addr).collect()
    }

    pub(in crate::router) fn neighbor_count(&self) -> usize {
        self.neighbors.len()
    }
}
