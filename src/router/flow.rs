//! Backpressure (protocol.md §6): when a socket's write buffer passes a high-water mark the router
//! stops reading from every socket that feeds it, and resumes below a low-water mark. Nothing is
//! dropped and memory stays bounded however fast a sender is.

use std::collections::HashMap;

use super::core::{Next, Router, Slot};
use crate::event::{Action, SockId};
use crate::wire::Aci;

pub use crate::link::backpressure::{HIGH_WATER, LOW_WATER};

/// Which sinks are congested and which sources they paused.
#[derive(Debug, Default)]
pub(super) struct Flow {
    congested: HashMap<SockId, Vec<SockId>>,
    paused: HashMap<SockId, u32>,
}

impl Router {
    /// The sockets whose input ends up in `sink`'s write buffer.
    fn sources_of(&self, sink: SockId) -> Vec<SockId> {
        if let Some(c) = self.streams.get(&sink).and_then(|id| self.circs.get(id)) {
            return vec![c.prev.0];
        }
        let mut out = Vec::new();
        for (_, slot) in self.slots.range((sink, Aci(0))..=(sink, Aci(u16::MAX))) {
            let Slot::Live(id) = slot else { continue };
            let Some(c) = self.circs.get(id) else { continue };
            let other = match &c.next {
                _ if c.prev.0 != sink => Some(c.prev.0),
                Next::Link(l, _) => Some(*l),
                Next::Exit(e) => e.sock(),
                Next::ReplyLeg(l) => Some(l.sock()),
                Next::Splice(s) => match s.out() {
                    Some(Next::Link(l, _)) => Some(*l),
                    Some(Next::ReplyLeg(l)) => Some(l.sock()),
                    _ => None,
                },
            };
            out.extend(other.filter(|o| *o != sink));
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    pub(super) fn flow_update(&mut self, sink: SockId, buffered: usize) {
        if buffered >= HIGH_WATER && !self.flow.congested.contains_key(&sink) {
            let sources = self.sources_of(sink);
            for s in &sources {
                let n = self.flow.paused.entry(*s).or_default();
                *n += 1;
                if *n == 1 {
                    self.actions.push_back(Action::PauseRead { sock: *s });
                }
            }
            self.flow.congested.insert(sink, sources);
        } else if buffered <= LOW_WATER {
            self.flow_release(sink);
        }
    }

    fn flow_release(&mut self, sink: SockId) {
        let Some(sources) = self.flow.congested.remove(&sink) else { return };
        for s in sources {
            if let Some(n) = self.flow.paused.get_mut(&s) {
                *n -= 1;
                if *n == 0 {
                    self.flow.paused.remove(&s);
                    self.actions.push_back(Action::ResumeRead { sock: s });
                }
            }
        }
    }

    /// A socket is gone: release what it paused and forget its own pause count.
    pub(super) fn flow_forget(&mut self, sock: SockId) {
        self.flow_release(sock);
        self.flow.paused.remove(&sock);
    }
}
