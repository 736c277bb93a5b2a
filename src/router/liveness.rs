//! The router's upkeep: once per housekeeping round the link table's liveness and PADDING
//! (protocol.md §3; PADDING goes through the mixer like any cell), redials and replay-cache
//! expiry; and the one-shot timers as they fall due (exit retries, jittered DESTROYs, CREATE
//! reassembly timeouts).

use super::conn_table::Slot;
use super::core::Router;
use super::refusal::OnionRefusal;
use super::timers::Timer;
use crate::event::{Now, SockId};
use crate::wire::Cell;

impl Router {
    /// Link timers, padding, redials and replay-cache expiry.
    pub(super) fn housekeeping(&mut self, now: Now) {
        let mut pad: Vec<SockId> = Vec::new();
        let mut events = Vec::new();
        self.links.upkeep(now, &mut self.rng, &mut self.ids, &mut self.actions, &mut pad, &mut events);
        self.link_events(now, events);
        for id in pad {
            let cell = Cell::padding(&mut self.rng);
            self.queue_cell(now, id, cell);
        }
        self.replay.expire(now.unix);
    }

    /// Fire due timers.
    pub(super) fn run_timers(&mut self, now: Now) {
        while let Some(timer) = self.timers.pop_due(now.mono) {
            match timer {
                Timer::ExitRetry(id) => self.exit_retry(now, id),
                Timer::Destroy(link, aci) => {
                    // Not if a crossing DESTROY freed the ACI meanwhile (it may be reused).
                    if matches!(self.conns.slot(&(link, aci)), Some(Slot::AwaitingAck)) {
                        self.emit_destroy(now, link, aci);
                    }
                }
                Timer::CreateTimeout(link, aci, began) => {
                    // The same reassembly (not a later one on a reused ACI) never completed.
                    if matches!(self.conns.slot(&(link, aci)), Some(Slot::Creating { started, .. }) if *started == began)
                    {
                        self.refuse(now, link, aci, OnionRefusal::CreateTimeout);
                    }
                }
            }
        }
    }
}
