//! The link table's periodic work: liveness and PADDING of every link, wake-up links closed,
//! redials whose backoff ran out; and a mixer batch link-encrypted onto its links.

use std::collections::VecDeque;

use rand::rngs::StdRng;

use super::{Link, LinkEvent, LinkTable};
use crate::event::{Action, Now, SockId, SockIds};
use crate::link::{LinkLoss, Upkeep};
use crate::wire::Cell;

impl LinkTable {
    /// Once per housekeeping round: handshake deadlines, liveness and PADDING of every link,
    /// closing wake-up links that did their job, redialling neighbours whose backoff ran out.
    /// Links to lose go to `events`, links owed a PADDING cell (one entry per cell) to `pad`.
    pub(in crate::router) fn upkeep(
        &mut self,
        now: Now,
        rng: &mut StdRng,
        ids: &mut SockIds,
        out: &mut VecDeque<Action>,
        pad: &mut Vec<SockId>,
        events: &mut Vec<LinkEvent>,
    ) {
        let handshake = self.settings.timers.handshake;
        for (id, l) in self.links.iter_mut() {
            if l.end.is_open() && !l.carrier {
                if l.end.established().is_some_and(|e| now.mono >= e + handshake) {
                    events.push(LinkEvent::Lost(*id, LinkLoss::WakeupDone));
                }
                continue;
            }
            match l.end.upkeep(now.mono, rng) {
                Upkeep::Lost(loss) => events.push(LinkEvent::Lost(*id, loss)),
                Upkeep::Pad(n) => pad.extend(std::iter::repeat(*id).take(n)),
            }
        }
        for i in 0..self.neighbors.len() {
            let n = &self.neighbors[i];
            if n.link.is_none() && n.attempt.is_none() && n.redial.due(now.mono) {
                self.dial(now, i, false, ids, out);
            }
        }
    }

    /// Link-encrypt a batch of cells, in order, and hand each touched link's bytes to the driver.
    pub(in crate::router) fn send_batch<'a>(
        &mut self,
        now: Now,
        batch: impl Iterator<Item = (SockId, &'a Cell)>,
        out: &mut VecDeque<Action>,
    ) {
        let mut touched: Vec<SockId> = Vec::new();
        // The link of the previous cell: runs of cells for one link look it up once.
        let mut current: Option<(SockId, &mut Link)> = None;
        for (sock, cell) in batch {
            if current.as_ref().map(|(id, _)| *id) != Some(sock) {
                current = self.links.get_mut(&sock).map(|l| (sock, l));
                touched.push(sock);
            }
            if let Some((_, l)) = current.as_mut() {
                if l.carrier {
                    l.end.encode(cell, now.mono);
                }
            }
        }
        touched.sort_unstable();
        touched.dedup();
        for sock in touched {
            self.flush(sock, out);
        }
    }
}
