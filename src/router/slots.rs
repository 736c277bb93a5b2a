//! The router's table of (link, ACI) slots, which also counts the connections still being
//! created, so that CREATE reassembly is bounded per link and in all (docs/security.md).

use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;

use super::core::Slot;
use crate::event::SockId;
use crate::wire::Aci;

/// Onions being reassembled from one link at once. An honest peer sends an onion's CREATE
/// cells together, so only a few are ever in progress; more is a flood.
pub const MAX_CREATING_PER_LINK: usize = 1024;
/// Onions being reassembled at once over all links (each holds up to 240 bytes and 64 early
/// DATA cells, about 4 KiB: some 32 MiB at most).
pub const MAX_CREATING: usize = 8192;

/// Every slot of every link, keyed so that one link's slots form a range.
#[derive(Default)]
pub(super) struct Slots {
    map: BTreeMap<(SockId, Aci), Slot>,
    creating: HashMap<SockId, usize>,
    creating_total: usize,
}

impl Slots {
    pub fn get(&self, key: &(SockId, Aci)) -> Option<&Slot> {
        self.map.get(key)
    }

    /// The slot, to change its contents. Change a slot's kind with [`Slots::insert`] only, so
    /// that the counts stay right.
    pub fn get_mut(&mut self, key: &(SockId, Aci)) -> Option<&mut Slot> {
        self.map.get_mut(key)
    }

    pub fn contains_key(&self, key: &(SockId, Aci)) -> bool {
        self.map.contains_key(key)
    }

    pub fn range(&self, range: RangeInclusive<(SockId, Aci)>) -> impl Iterator<Item = (&(SockId, Aci), &Slot)> {
        self.map.range(range)
    }

    pub fn insert(&mut self, key: (SockId, Aci), slot: Slot) -> Option<Slot> {
        if matches!(slot, Slot::Creating { .. }) {
            *self.creating.entry(key.0).or_default() += 1;
            self.creating_total += 1;
        }
        let old = self.map.insert(key, slot);
        self.forget(key.0, old.as_ref());
        old
    }

    pub fn remove(&mut self, key: &(SockId, Aci)) -> Option<Slot> {
        let old = self.map.remove(key);
        self.forget(key.0, old.as_ref());
        old
    }

    /// (link, ACI) slots in use: connections, onions arriving, DESTROY handshakes not complete.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Slots waiting for the acknowledgement of a DESTROY we sent.
    pub fn awaiting_ack(&self) -> usize {
        self.map.values().filter(|s| matches!(s, Slot::AwaitingAck)).count()
    }

    /// Onions being reassembled from `link`.
    pub fn creating_on(&self, link: SockId) -> usize {
        self.creating.get(&link).copied().unwrap_or(0)
    }

    /// Onions being reassembled over all links.
    pub fn creating(&self) -> usize {
        self.creating_total
    }

    fn forget(&mut self, link: SockId, old: Option<&Slot>) {
        if !matches!(old, Some(Slot::Creating { .. })) {
            return;
        }
        self.creating_total -= 1;
        if let Some(n) = self.creating.get_mut(&link) {
            *n -= 1;
            if *n == 0 {
                self.creating.remove(&link);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::SockIds;
    use std::time::Instant;

    fn creating() -> Slot {
        Slot::Creating { onion: Vec::new(), early: Vec::new(), started: Instant::now() }
    }

    #[test]
    fn counts_follow_inserts_overwrites_and_removes() {
        let mut ids = SockIds::default();
        let (a, b) = (ids.fresh(), ids.fresh());
        let mut s = Slots::default();
        s.insert((a, Aci(1)), creating());
        s.insert((a, Aci(2)), creating());
        s.insert((b, Aci(1)), creating());
        assert_eq!((s.creating_on(a), s.creating_on(b), s.creating()), (2, 1, 3));
        // Creating → Live by overwrite, then removal of a Live slot: only the first counts.
        s.insert((a, Aci(1)), Slot::Live(super::super::core::CircId(7)));
        s.remove(&(a, Aci(1)));
        assert_eq!((s.creating_on(a), s.creating()), (1, 2));
        s.remove(&(a, Aci(2)));
        s.remove(&(a, Aci(2)));
        s.remove(&(b, Aci(9)));
        assert_eq!((s.creating_on(a), s.creating_on(b), s.creating()), (0, 1, 1));
        s.insert((b, Aci(1)), Slot::AwaitingAck);
        assert_eq!(s.creating(), 0);
        assert!(s.creating.is_empty(), "no per-link entries left behind");
    }
}
