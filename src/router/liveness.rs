//! The router's link upkeep, once per housekeeping round: each [`crate::link::LinkEnd`]'s
//! handshake deadline, liveness and PADDING (protocol.md §3; PADDING goes through the mixer like any
//! cell), closing wake-up links that did their job, redialling neighbours whose backoff has run
//! out, and expiring the replay cache.

use super::core::Router;
use crate::event::{Now, SockId};
use crate::link::{LinkLoss, Upkeep};
use crate::wire::Cell;

impl Router {
    /// Link timers, padding, redials and replay-cache expiry.
    pub(super) fn housekeeping(&mut self, now: Now) {
        let handshake = self.cfg.timeouts.handshake;
        let mut lost: Vec<(SockId, LinkLoss)> = Vec::new();
        let mut pad: Vec<SockId> = Vec::new();
        for (id, l) in self.links.iter_mut() {
            if l.end.is_open() && !l.carrier {
                if l.end.established().is_some_and(|e| now.mono >= e + handshake) {
                    lost.push((*id, LinkLoss::WakeupDone));
                }
                continue;
            }
            match l.end.upkeep(now.mono, &mut self.rng) {
                Upkeep::Lost(loss) => lost.push((*id, loss)),
                Upkeep::Pad(n) => pad.extend(std::iter::repeat(*id).take(n)),
            }
        }
        for (id, loss) in lost {
            self.link_lost(now, id, loss);
        }
        for id in pad {
            let cell = Cell::padding(&mut self.rng);
            self.queue_cell(now, id, cell);
        }
        for i in 0..self.neighbors.len() {
            let n = &self.neighbors[i];
            if n.link.is_none() && n.attempt.is_none() && n.redial.due(now.mono) {
                self.dial(now, i, false);
            }
        }
        self.replay.expire(now.unix);
        self.reply.expire(now.unix);
    }
}
