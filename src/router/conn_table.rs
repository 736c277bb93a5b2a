//! The connection table: what each (link, ACI) pair stands for, and the anonymous connections
//! through this router with their crypto engines and next hop. It counts the connections still
//! being created, so that CREATE reassembly is bounded per link and in all (docs/security.md).
//! Keyed so that one link's pairs form a range: a lost link's connections are found without a
//! scan of the whole table.

use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddrV4;
use std::time::Instant;

use super::exit_funnel::{Exit, ExitFunnel};
use crate::crypto::Engine;
use crate::event::SockId;
use crate::wire::{Aci, Cell};

/// Onions being reassembled from one link at once. An honest peer sends an onion's CREATE
/// cells together, so only a few are ever in progress; more is a flood.
pub const MAX_CREATING_PER_LINK: usize = 1024;
/// Onions being reassembled at once over all links (each holds up to 240 bytes and 64 early
/// DATA cells, about 4 KiB: some 32 MiB at most).
pub const MAX_CREATING: usize = 8192;

/// Identifies one anonymous connection through this router.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// What an ACI on a link currently stands for.
#[derive(Debug)]
pub(super) enum Slot {
    /// CREATE cells arriving: the onion so far, and DATA cells that came early.
    Creating { onion: Vec<u8>, early: Vec<Cell>, started: Instant },
    /// Part of a live connection.
    Live(ConnId),
    /// We sent DESTROY and wait for the acknowledgement.
    AwaitingAck,
}

/// Where a connection goes after this router.
pub(super) enum Next {
    Link(SockId, Aci),
    Exit(Box<Exit>),
    /// hn of a reply route: the endpoint leg (`reply_leg.rs`).
    ReplyLeg(Box<ReplyLeg>),
    /// A protocol-6 exit spliced into a reply route (`splice.rs`).
    Splice(Box<Splice>),
}

/// hn's socket to the owner's reply endpoint.
pub(super) struct ReplyLeg {
    pub sock: SockId,
    pub connected: bool,
    /// The head and the bodies that came before the endpoint was connected.
    pub pending: Vec<u8>,
    /// Bytes read from the endpoint that do not make a whole body yet.
    pub inbound: Vec<u8>,
}

impl ReplyLeg {
    pub fn sock(&self) -> SockId {
        self.sock
    }
}

/// Where a protocol-6 splice stands.
pub(super) enum SpliceState {
    /// Reading the 240 onion bytes (and any data after them).
    Collecting { h1: SocketAddrV4, buf: Vec<u8> },
    /// Spliced into the reply route: `out` is the link towards h1 (or, when X = h1, towards
    /// h2 or the endpoint), `hop` h1's engines when X peeled the onion itself.
    Open { out: Next, hop: Option<(Engine, Engine)> },
}

/// The exit side of a protocol-6 connection.
pub(super) struct Splice {
    pub state: SpliceState,
}

impl Splice {
    pub fn leg_mut(&mut self) -> Option<&mut ReplyLeg> {
        match &mut self.state {
            SpliceState::Open { out: Next::ReplyLeg(l), .. } => Some(l),
            _ => None,
        }
    }

    pub fn has_leg(&self) -> bool {
        matches!(self.state, SpliceState::Open { out: Next::ReplyLeg(_), .. })
    }

    /// The other side, once open.
    pub fn out(&self) -> Option<&Next> {
        match &self.state {
            SpliceState::Open { out, .. } => Some(out),
            SpliceState::Collecting { .. } => None,
        }
    }

    /// Take the other side (the connection is ending).
    pub fn take_out(self) -> Option<Next> {
        match self.state {
            SpliceState::Open { out, .. } => Some(out),
            SpliceState::Collecting { .. } => None,
        }
    }
}

/// One anonymous connection at this router.
pub(super) struct Connection {
    /// Toward the onion proxy.
    pub prev: (SockId, Aci),
    pub next: Next,
    /// Forward engine (key3) and backward engine (key2).
    pub fwd: Engine,
    pub back: Engine,
}

/// Every (link, ACI) slot and every connection.
#[derive(Default)]
pub(super) struct ConnTable {
    slots: BTreeMap<(SockId, Aci), Slot>,
    creating: HashMap<SockId, usize>,
    creating_total: usize,
    /// Keyed by our own counter, never by a peer's choice: a fast unkeyed hash is safe here.
    conns: FxHashMap<ConnId, Connection>,
    last_id: u64,
}

impl ConnTable {
    pub fn slot(&self, key: &(SockId, Aci)) -> Option<&Slot> {
        self.slots.get(key)
    }

    /// The slot, to change its contents. Change a slot's kind with [`ConnTable::set_slot`]
    /// only, so that the counts stay right.
    pub fn slot_mut(&mut self, key: &(SockId, Aci)) -> Option<&mut Slot> {
        self.slots.get_mut(key)
    }

    pub fn has_slot(&self, key: &(SockId, Aci)) -> bool {
        self.slots.contains_key(key)
    }

    pub fn set_slot(&mut self, key: (SockId, Aci), slot: Slot) -> Option<Slot> {
        if matches!(slot, Slot::Creating { .. }) {
            *self.creating.entry(key.0).or_default() += 1;
            self.creating_total += 1;
        }
        let old = self.slots.insert(key, slot);
        self.forget_creating(key.0, old.as_ref());
        old
    }

    pub fn remove_slot(&mut self, key: &(SockId, Aci)) -> Option<Slot> {
        let old = self.slots.remove(key);
        self.forget_creating(key.0, old.as_ref());
        old
    }

    /// The pairs in use on `link`.
    pub fn keys_on(&self, link: SockId) -> Vec<(SockId, Aci)> {
        self.slots.range((link, Aci(0))..=(link, Aci(u16::MAX))).map(|(k, _)| *k).collect()
    }

    /// The live connections with a pair on `link`.
    pub fn live_on(&self, link: SockId) -> impl Iterator<Item = &Connection> + '_ {
        self.slots.range((link, Aci(0))..=(link, Aci(u16::MAX))).filter_map(|(_, slot)| match slot {
            Slot::Live(id) => self.conns.get(id),
            _ => None,
        })
    }

    /// (link, ACI) pairs in use: connections, onions arriving, DESTROY handshakes not complete.
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Pairs waiting for the acknowledgement of a DESTROY we sent (a scan: status only).
    pub fn awaiting_ack(&self) -> usize {
        self.slots.values().filter(|s| matches!(s, Slot::AwaitingAck)).count()
    }

    /// Onions being reassembled from `link`.
    pub fn creating_on(&self, link: SockId) -> usize {
        self.creating.get(&link).copied().unwrap_or(0)
    }

    /// Onions being reassembled over all links.
    pub fn creating(&self) -> usize {
        self.creating_total
    }

    /// A fresh connection id (ids are never reused).
    pub fn new_id(&mut self) -> ConnId {
        self.last_id += 1;
        ConnId(self.last_id)
    }

    /// Add a connection under `id`; its pairs are set by the caller.
    pub fn insert(&mut self, id: ConnId, conn: Connection) {
        self.conns.insert(id, conn);
    }

    pub fn get(&self, id: ConnId) -> Option<&Connection> {
        self.conns.get(&id)
    }

    pub fn get_mut(&mut self, id: ConnId) -> Option<&mut Connection> {
        self.conns.get_mut(&id)
    }

    /// The exit state of a connection that ends here.
    pub fn exit_mut(&mut self, id: ConnId) -> Option<&mut Exit> {
        match self.conns.get_mut(&id).map(|c| &mut c.next) {
            Some(Next::Exit(e)) => Some(e),
            _ => None,
        }
    }

    /// Take a connection out (its pairs stay: the caller frees them with the DESTROY handshake).
    pub fn remove(&mut self, id: ConnId) -> Option<Connection> {
        self.conns.remove(&id)
    }

    /// Live connections.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// Every connection's id, in id order (deterministic).
    pub fn ids(&self) -> Vec<ConnId> {
        let mut ids: Vec<ConnId> = self.conns.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// The sockets whose input ends up in `sink`'s write buffer (backpressure pauses them):
    /// for a destination socket its connection's previous link, for a link the other side of
    /// every connection on it.
    pub fn sources_of(&self, exits: &ExitFunnel<ConnId>, sink: SockId) -> Vec<SockId> {
        if let Some(c) = exits.stream(sink).and_then(|id| self.get(id)) {
            return vec![c.prev.0];
        }
        let mut out = Vec::new();
        for c in self.live_on(sink) {
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

    fn forget_creating(&mut self, link: SockId, old: Option<&Slot>) {
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
    use crate::crypto::CipherCode;
    use crate::event::SockIds;

    fn creating() -> Slot {
        Slot::Creating { onion: Vec::new(), early: Vec::new(), started: Instant::now() }
    }

    fn conn(prev: (SockId, Aci), next: Next) -> Connection {
        let engine = || Engine::new(CipherCode::Aes128Ctr, &[7; 20]);
        Connection { prev, next, fwd: engine(), back: engine() }
    }

    #[test]
    fn counts_follow_inserts_overwrites_and_removes() {
        let mut ids = SockIds::default();
        let (a, b) = (ids.fresh(), ids.fresh());
        let mut t = ConnTable::default();
        t.set_slot((a, Aci(1)), creating());
        t.set_slot((a, Aci(2)), creating());
        t.set_slot((b, Aci(1)), creating());
        assert_eq!((t.creating_on(a), t.creating_on(b), t.creating()), (2, 1, 3));
        // Creating → Live by overwrite, then removal of a Live slot: only the first counts.
        t.set_slot((a, Aci(1)), Slot::Live(ConnId(7)));
        t.remove_slot(&(a, Aci(1)));
        assert_eq!((t.creating_on(a), t.creating()), (1, 2));
        t.remove_slot(&(a, Aci(2)));
        t.remove_slot(&(a, Aci(2)));
        t.remove_slot(&(b, Aci(9)));
        assert_eq!((t.creating_on(a), t.creating_on(b), t.creating()), (0, 1, 1));
        t.set_slot((b, Aci(1)), Slot::AwaitingAck);
        assert_eq!((t.creating(), t.awaiting_ack()), (0, 1));
        assert!(t.creating.is_empty(), "no per-link entries left behind");
    }

    #[test]
    fn a_links_pairs_and_connections_are_found_by_range() {
        let mut ids = SockIds::default();
        let (a, b, c) = (ids.fresh(), ids.fresh(), ids.fresh());
        let mut t = ConnTable::default();
        let id = t.new_id();
        t.insert(id, conn((a, Aci(5)), Next::Link(b, Aci(9))));
        t.set_slot((a, Aci(5)), Slot::Live(id));
        t.set_slot((b, Aci(9)), Slot::Live(id));
        t.set_slot((b, Aci(10)), Slot::AwaitingAck);
        let exit = t.new_id();
        t.insert(exit, conn((c, Aci(1)), Next::Exit(Box::new(Exit::new()))));
        t.set_slot((c, Aci(1)), Slot::Live(exit));
        assert_eq!(t.keys_on(b), vec![(b, Aci(9)), (b, Aci(10))]);
        assert_eq!(t.live_on(b).map(|c| c.prev).collect::<Vec<_>>(), vec![(a, Aci(5))]);
        assert_eq!(t.live_on(a).count(), 1);
        assert!(t.exit_mut(exit).is_some() && t.exit_mut(id).is_none());
        assert_eq!((t.len(), t.ids(), t.slot_count()), (2, vec![id, exit], 4));
        let exits = ExitFunnel::default();
        assert_eq!(t.sources_of(&exits, b), vec![a], "what feeds b: the other side of its connection");
        assert_eq!(t.sources_of(&exits, a), vec![b]);
        assert!(t.remove(id).is_some() && t.get(id).is_none());
        assert_ne!(t.new_id(), exit, "ids are not reused");
    }
}
