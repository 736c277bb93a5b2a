//! Link liveness (protocol.md §3) and cover traffic: handshake and wake-up timeouts, closing links on
//! which nothing arrives, PADDING on idle links and at `--padding-rate` (Poisson), redialling
//! neighbours whose backoff has run out, and expiring the replay cache.

use std::time::Duration;

use rand::Rng;

use super::core::Router;
use super::links::LinkState;
use crate::event::{Now, SockId};
use crate::wire::Cell;

impl Router {
    /// Link timers, padding, redials and replay-cache expiry.
    pub(super) fn housekeeping(&mut self, now: Now) {
        let t = self.cfg.timeouts.clone();
        let mut lost: Vec<(SockId, &'static str)> = Vec::new();
        let mut pad: Vec<SockId> = Vec::new();
        for (id, l) in self.links.iter_mut() {
            match &l.state {
                LinkState::Connecting | LinkState::Handshaking { .. } => {
                    if now.mono >= l.opened + t.handshake {
                        lost.push((*id, "handshake not finished in time"));
                    }
                }
                LinkState::Open { carrier: false, .. } => {
                    if l.established.is_some_and(|e| now.mono >= e + t.handshake) {
                        lost.push((*id, "wake-up done"));
                    }
                }
                LinkState::Open { .. } => {
                    if now.mono >= l.last_rx + t.idle_close {
                        lost.push((*id, "nothing received for too long"));
                        continue;
                    }
                    if now.mono >= l.last_tx + t.idle_padding {
                        pad.push(*id);
                    }
                    while let Some(due) = l.next_padding.filter(|d| *d <= now.mono) {
                        pad.push(*id);
                        l.next_padding = Some(due + exp_delay(&mut self.rng, self.cfg.padding_rate));
                    }
                }
            }
        }
        for (id, why) in lost {
            self.link_lost(now, id, why);
        }
        for id in pad {
            let cell = Cell::padding(&mut self.rng);
            if let Some(l) = self.links.get_mut(&id) {
                l.last_tx = now.mono;
            }
            self.queue_cell(now, id, cell);
        }
        for i in 0..self.neighbors.len() {
            let n = &self.neighbors[i];
            if n.link.is_none() && n.attempt.is_none() && n.next_dial.is_some_and(|d| d <= now.mono) {
                self.dial(now, i, false);
            }
        }
        self.replay.expire(now.unix);
    }
}

/// An exponentially distributed delay with mean 1/rate (Poisson padding).
pub(super) fn exp_delay(rng: &mut impl Rng, rate: f64) -> Duration {
    let u: f64 = rng.gen_range(f64::EPSILON..1.0);
    Duration::from_secs_f64((-u.ln() / rate).min(3600.0))
}
