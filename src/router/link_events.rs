//! Between the link table and the rest of the router: links accepted, dialled and keyed, the
//! cells they carry handed to the connection logic, and a lost link's connections ended
//! toward their other side.

use std::net::SocketAddr;

use super::core::Router;
use super::links::LinkEvent;
use crate::event::{Action, Now, SockId};
use crate::link::{LinkCodec, LinkLoss, PeerIdentity};

/// The decoded-cell buffer is kept between reads up to this many cells (a 256 KiB read).
const CELLS_SCRATCH_KEPT: usize = 256 * 1024 / crate::wire::cell::CELL_LEN;

impl Router {
    pub(super) fn accept_link(&mut self, now: Now, peer: SocketAddr) -> SockId {
        self.links.accept(now, peer, &mut self.ids, &mut self.rng)
    }

    /// Take a connection whose link is already keyed, as if its STS handshake with `peer` had
    /// just completed. Only for the fuzz harness (`crate::fuzzing`), which drives cells into a
    /// router without paying for Diffie-Hellman and RSA signatures on every run.
    #[doc(hidden)]
    pub fn accept_keyed_link(
        &mut self,
        now: Now,
        tcp_peer: SocketAddr,
        peer: PeerIdentity,
        codec: LinkCodec,
    ) -> SockId {
        let mut events = Vec::new();
        let sock = self.links.accept_keyed(now, tcp_peer, peer, codec, &mut self.ids, &mut self.actions, &mut events);
        self.link_events(now, events);
        sock
    }

    pub(super) fn link_connected(&mut self, now: Now, sock: SockId, result: std::io::Result<()>) {
        let mut events = Vec::new();
        self.links.connected(now, sock, result, &mut self.rng, &mut self.actions, &mut events);
        self.link_events(now, events);
    }

    pub(super) fn link_received(&mut self, now: Now, sock: SockId, data: &[u8]) {
        // The cells of one read go through a buffer kept between reads (one 64 KiB read is
        // 1,365 cells: a fresh vector grew by doubling and copied them ten times).
        let (mut cells, mut events) = (std::mem::take(&mut self.cells_scratch), Vec::new());
        self.links.received(now, sock, data, &mut self.ids, &mut self.actions, &mut cells, &mut events);
        // Cells first: a link lost at the end of these bytes still delivers what came before.
        let (lost, others): (Vec<_>, Vec<_>) = events.into_iter().partition(|e| matches!(e, LinkEvent::Lost(..)));
        self.link_events(now, others);
        self.stats.cells_in += cells.len() as u64;
        for cell in cells.drain(..) {
            self.handle_cell(now, sock, cell);
        }
        if cells.capacity() <= CELLS_SCRATCH_KEPT {
            self.cells_scratch = cells;
        }
        self.link_events(now, lost);
    }

    pub(super) fn link_events(&mut self, now: Now, events: Vec<LinkEvent>) {
        for event in events {
            match event {
                LinkEvent::Up => self.stats.links_up += 1,
                LinkEvent::Refused => self.stats.links_refused += 1,
                LinkEvent::KeyLog(line) => self.actions.push_back(Action::KeyLog { line }),
                LinkEvent::Lost(sock, loss) => self.link_lost(now, sock, loss),
            }
        }
    }

    /// A link is gone: destroy its connections toward their other side; the table plans a redial.
    pub(super) fn link_lost(&mut self, now: Now, sock: SockId, loss: LinkLoss) {
        let Some(was_carrier) = self.links.lose(now, sock, loss, &mut self.rng, &mut self.actions) else { return };
        for key in self.conns.keys_on(sock) {
            if let Some(super::conn_table::Slot::Live(c)) = self.conns.remove_slot(&key) {
                self.destroy_connection(now, c, Some(key));
            }
        }
        self.flow.forget(sock, &mut self.actions);
        *self.stats.links_lost.entry(loss).or_default() += 1;
        if was_carrier {
            self.stats.links_down += 1;
        }
    }
}
