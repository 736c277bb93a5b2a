//! Backpressure (protocol.md §6): when a socket's write buffer passes a high-water mark the router
//! stops reading from every socket that feeds it, and resumes below a low-water mark. Nothing is
//! dropped and memory stays bounded however fast a sender is. A source paused by several
//! congested sinks resumes only when the last of them drains.

use std::collections::{HashMap, VecDeque};

use crate::event::{Action, SockId};

pub use crate::link::backpressure::{HIGH_WATER, LOW_WATER};

/// Which sinks are congested and which sources they paused.
#[derive(Debug, Default)]
pub(super) struct Flow {
    congested: HashMap<SockId, Vec<SockId>>,
    paused: HashMap<SockId, u32>,
}

impl Flow {
    /// `sink` has `buffered` bytes unwritten. On crossing the high-water mark its sources (asked
    /// of `sources` only then) are paused; below the low-water mark they are released.
    pub fn update(
        &mut self,
        sink: SockId,
        buffered: usize,
        sources: impl FnOnce() -> Vec<SockId>,
        out: &mut VecDeque<Action>,
    ) {
        if buffered >= HIGH_WATER && !self.congested.contains_key(&sink) {
            let sources = sources();
            for s in &sources {
                let n = self.paused.entry(*s).or_default();
                *n += 1;
                if *n == 1 {
                    out.push_back(Action::PauseRead { sock: *s });
                }
            }
            self.congested.insert(sink, sources);
        } else if buffered <= LOW_WATER {
            self.release(sink, out);
        }
    }

    fn release(&mut self, sink: SockId, out: &mut VecDeque<Action>) {
        let Some(sources) = self.congested.remove(&sink) else { return };
        for s in sources {
            if let Some(n) = self.paused.get_mut(&s) {
                *n -= 1;
                if *n == 0 {
                    self.paused.remove(&s);
                    out.push_back(Action::ResumeRead { sock: s });
                }
            }
        }
    }

    /// A socket is gone: release what it paused and forget its own pause count.
    pub fn forget(&mut self, sock: SockId, out: &mut VecDeque<Action>) {
        self.release(sock, out);
        self.paused.remove(&sock);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::SockIds;

    #[test]
    fn a_source_paused_by_two_sinks_resumes_after_both_drain() {
        let mut ids = SockIds::default();
        let (src, a, b) = (ids.fresh(), ids.fresh(), ids.fresh());
        let mut flow = Flow::default();
        let mut out = VecDeque::new();
        flow.update(a, HIGH_WATER, || vec![src], &mut out);
        flow.update(b, HIGH_WATER, || vec![src], &mut out);
        flow.update(a, HIGH_WATER + 1, || panic!("asked again while congested"), &mut out);
        assert!(matches!(out.drain(..).collect::<Vec<_>>()[..], [Action::PauseRead { sock }] if sock == src));
        flow.update(a, LOW_WATER, Vec::new, &mut out);
        assert!(out.is_empty(), "b still congested");
        flow.update(b, LOW_WATER + 1, Vec::new, &mut out);
        assert!(out.is_empty(), "between the marks nothing changes");
        flow.forget(b, &mut out);
        assert!(matches!(out.drain(..).collect::<Vec<_>>()[..], [Action::ResumeRead { sock }] if sock == src));
    }
}
