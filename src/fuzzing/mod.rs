//! Fuzz harnesses, one function per target, shared by the cargo-fuzz binaries in `fuzz/` and by
//! the stable test `tests/fuzz_corpus.rs` that replays the committed corpus through the very same
//! functions. Each harness takes arbitrary bytes, drives one decoder or state machine with them
//! and panics only when the code under test breaks one of its own stated rules (a typed error is
//! always fine). Not part of the public API.
//!
//! Inputs are read with [`Input`], a cursor that never panics and yields zeros once exhausted, so
//! every byte string is a valid (if short) script. `seeds` builds the valid inputs the corpus
//! starts from (real cells, the known-answer onions, an STS transcript, an HTTP request, an SMTP
//! dialogue).

mod cell_link;
mod directory;
mod http_head;
pub(crate) mod keys;
mod link_handshake;
mod onion_peel;
mod reply_formats;
mod rlogin;
mod router_cells;
pub mod seeds;
mod session;
mod smtp;
mod socks;
mod standard_structure;

pub use cell_link::cell_link;
pub use directory::{descriptor, network_document};
pub use http_head::http_head;
pub use link_handshake::link_handshake;
pub use onion_peel::onion_peel;
pub use reply_formats::reply_formats;
pub use rlogin::rlogin;
pub use router_cells::router_cells;
pub use smtp::smtp;
pub use socks::socks;
pub use standard_structure::standard_structure;

/// A harness: arbitrary bytes in, a panic only for a broken rule.
pub type Harness = fn(&[u8]);

/// Every target by name, as `fuzz/fuzz_targets/<name>.rs` and `fuzz/corpus/<name>/` call it.
pub const TARGETS: &[(&str, Harness)] = &[
    ("cell_link", cell_link),
    ("onion_peel", onion_peel),
    ("router_cells", router_cells),
    ("standard_structure", standard_structure),
    ("link_handshake", link_handshake),
    ("http_head", http_head),
    ("smtp", smtp),
    ("rlogin", rlogin),
    ("socks", socks),
    ("descriptor", descriptor),
    ("network_document", network_document),
    ("reply_formats", reply_formats),
];

/// The harness of target `name`.
pub fn target(name: &str) -> Option<Harness> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// A cursor over fuzz input that never fails: reads past the end give zeros (or empty slices).
#[derive(Debug, Clone)]
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// Up to `n` bytes (fewer at the end of the input).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    /// Exactly `N` bytes, zero-filled past the end.
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let got = self.bytes(N);
        out[..got.len()].copy_from_slice(got);
        out
    }

    /// A chunk whose length is the next byte.
    pub fn chunk(&mut self) -> &'a [u8] {
        let n = usize::from(self.u8());
        self.bytes(n)
    }

    /// A chunk whose length is the next two bytes (big-endian).
    pub fn long_chunk(&mut self) -> &'a [u8] {
        let n = usize::from(self.u16());
        self.bytes(n)
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

/// Split `data` into fragments whose sizes cycle through `1..=max` from `pattern`: the same
/// bytes arrive as a peer's reads might deliver them.
pub fn fragments<'a>(data: &'a [u8], pattern: u8, max: usize) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = data;
    let mut k = usize::from(pattern);
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        k = k.wrapping_mul(31).wrapping_add(7);
        let n = (k % max.max(1) + 1).min(rest.len());
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Some(head)
    })
}
