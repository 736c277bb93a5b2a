//! Link encryption of cells (protocol.md §1): one continuous DES-OFB keystream per direction that
//! crypts only each cell's leading bytes, and a decoder that reassembles cells from arbitrary
//! fragments of the byte stream.

use thiserror::Error;

use crate::crypto::Engine;
use crate::wire::cell::{field, Aci, Cell, Command, BODY_LEN, CELL_LEN};

/// Bytes a receiver decrypts before it knows the command: ACI and Command.
const HEADER_LEN: usize = field::COMMAND + 1;
const _: () = assert!(field::BODY.start == HEADER_LEN);

/// A fatal link error: the receiving keystream can no longer be trusted to be in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum LinkError {
    /// A cell decrypted to a command outside 0..=3. The link must close and every connection
    /// on it be destroyed (protocol.md §1, §6).
    #[error("unknown cell command {0}: link keystream out of step, the link must close")]
    UnknownCommand(u8),
    /// Input offered after an [`LinkError::UnknownCommand`]; the codec refuses it.
    #[error("link already failed on unknown cell command {0}; input refused")]
    Failed(u8),
}

/// The cell codec of one established link: `tx` crypts what we send, `rx` what we receive.
///
/// Built by the STS handshake with both engines already advanced past the handshake's
/// signatures ([`crate::link::handshake`]); [`LinkCodec::new`] takes engines as they are.
pub struct LinkCodec {
    tx: Engine,
    rx: Engine,
    /// The cell being received; `have` bytes of it are filled.
    partial: [u8; CELL_LEN],
    have: usize,
    /// The command of the partial cell, once its header is decrypted.
    command: Option<Command>,
    /// Set by an unknown command; no further input is accepted.
    failed: Option<u8>,
}

impl LinkCodec {
    /// A codec over two engines positioned where the cells start.
    pub fn new(tx: Engine, rx: Engine) -> LinkCodec {
        LinkCodec { tx, rx, partial: [0; CELL_LEN], have: 0, command: None, failed: None }
    }

    /// Append `cell`'s 48 wire bytes to `out`, link-crypting its leading
    /// [`Command::link_crypt_len`] bytes.
    pub fn encode(&mut self, cell: &Cell, out: &mut Vec<u8>) {
        // Written straight into `out`, then crypted there: no copy through a local buffer.
        let start = out.len();
        out.reserve(CELL_LEN);
        out.extend_from_slice(&cell.aci.0.to_be_bytes());
        out.push(cell.command as u8);
        out.extend_from_slice(&cell.body);
        self.tx.apply(&mut out[start..start + cell.command.link_crypt_len()]);
    }

    /// Append many cells, in order, to one buffer (one write for a whole batch).
    pub fn encode_all<'a>(&mut self, cells: impl IntoIterator<Item = &'a Cell>, out: &mut Vec<u8>) {
        let cells = cells.into_iter();
        out.reserve(cells.size_hint().0 * CELL_LEN);
        for cell in cells {
            self.encode(cell, out);
        }
    }

    /// Feed received bytes (any fragment, even one byte); every completed cell is pushed to
    /// `out` and a trailing partial cell is kept for the next call.
    ///
    /// On [`LinkError::UnknownCommand`] the cells decoded before the bad one are already in
    /// `out` (they were in step); the codec then refuses all further input with
    /// [`LinkError::Failed`].
    pub fn decode(&mut self, mut input: &[u8], out: &mut Vec<Cell>) -> Result<(), LinkError> {
        if let Some(byte) = self.failed {
            return Err(LinkError::Failed(byte));
        }
        while !input.is_empty() {
            if self.have == 0 && input.len() >= CELL_LEN {
                // A whole cell in the input (the usual case): decode it where it lies.
                let (wire, rest) = input.split_at(CELL_LEN);
                input = rest;
                self.decode_whole(wire, out)?;
                continue;
            }
            let take = (CELL_LEN - self.have).min(input.len());
            let (now, rest) = input.split_at(take);
            self.partial[self.have..self.have + take].copy_from_slice(now);
            self.have += take;
            input = rest;

            if self.command.is_none() && self.have >= HEADER_LEN {
                self.rx.apply(&mut self.partial[..HEADER_LEN]);
                let byte = self.partial[field::COMMAND];
                match Command::from_byte(byte) {
                    Ok(command) => self.command = Some(command),
                    Err(_) => {
                        self.failed = Some(byte);
                        self.have = 0;
                        return Err(LinkError::UnknownCommand(byte));
                    }
                }
            }
            if self.have == CELL_LEN {
                if let Some(command) = self.command.take() {
                    self.rx.apply(&mut self.partial[HEADER_LEN..command.link_crypt_len()]);
                    out.push(self.take_cell(command));
                }
            }
        }
        Ok(())
    }

    /// One whole cell's wire bytes, not yet decrypted, pushed to `out` decrypted.
    fn decode_whole(&mut self, wire: &[u8], out: &mut Vec<Cell>) -> Result<(), LinkError> {
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&wire[..HEADER_LEN]);
        self.rx.apply(&mut header);
        let byte = header[field::COMMAND];
        let Ok(command) = Command::from_byte(byte) else {
            self.failed = Some(byte);
            return Err(LinkError::UnknownCommand(byte));
        };
        let mut body = [0u8; BODY_LEN];
        body.copy_from_slice(&wire[field::BODY]);
        // The link-crypted bytes past the header are the body's first ones (field::BODY starts
        // right after the command).
        self.rx.apply(&mut body[..command.link_crypt_len() - HEADER_LEN]);
        out.push(Cell { aci: Aci(u16::from_be_bytes([header[0], header[1]])), command, body });
        Ok(())
    }

    /// The completed, decrypted cell in `partial`; empties it.
    fn take_cell(&mut self, command: Command) -> Cell {
        let p = &self.partial;
        let mut body = [0u8; BODY_LEN];
        body.copy_from_slice(&p[field::BODY]);
        self.have = 0;
        Cell { aci: Aci(u16::from_be_bytes([p[0], p[1]])), command, body }
    }

    /// Bytes of an incomplete cell held since the last `decode`.
    pub fn buffered(&self) -> usize {
        self.have
    }

    /// Whether an unknown command has killed the receiving side.
    pub fn is_failed(&self) -> bool {
        self.failed.is_some()
    }
}

impl std::fmt::Debug for LinkCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkCodec").field("buffered", &self.have).field("failed", &self.failed).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha20Rng;

    const K1: [u8; 8] = *b"linkkey1";
    const K2: [u8; 8] = *b"linkkey2";

    /// Two ends of one link: a's tx is b's rx and vice versa.
    fn pair() -> (LinkCodec, LinkCodec) {
        (
            LinkCodec::new(Engine::des_ofb(&K1), Engine::des_ofb(&K2)),
            LinkCodec::new(Engine::des_ofb(&K2), Engine::des_ofb(&K1)),
        )
    }

    const COMMANDS: [Command; 4] = [Command::Padding, Command::Create, Command::Data, Command::Destroy];

    fn random_cells(rng: &mut ChaCha20Rng, n: usize) -> Vec<Cell> {
        (0..n)
            .map(|_| {
                let command = COMMANDS[rng.gen_range(0..COMMANDS.len())];
                let mut body = [0u8; BODY_LEN];
                rng.fill(&mut body[..]);
                Cell { aci: Aci(rng.gen()), command, body }
            })
            .collect()
    }

    #[test]
    fn crypts_only_the_leading_bytes_from_one_continuous_stream() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let cells = random_cells(&mut rng, 40);
        let (mut a, _) = pair();
        let mut wire = Vec::new();
        a.encode_all(&cells, &mut wire);
        assert_eq!(wire.len(), cells.len() * CELL_LEN);

        let mut stream = Engine::des_ofb(&K1);
        for (cell, got) in cells.iter().zip(wire.chunks(CELL_LEN)) {
            let mut want = cell.to_bytes();
            let n = cell.command.link_crypt_len();
            stream.apply(&mut want[..n]);
            assert_eq!(got, &want[..], "{cell:?}");
            assert_eq!(&got[n..], &cell.to_bytes()[n..]);
        }
    }

    #[test]
    fn round_trips_every_command_in_any_fragmentation() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let cells = random_cells(&mut rng, 200);
        for &max_fragment in &[1usize, 2, 3, 5, 47, 48, 49, 97, 10_000] {
            let (mut a, mut b) = pair();
            let mut wire = Vec::new();
            for c in &cells {
                a.encode(c, &mut wire);
            }
            let mut got = Vec::new();
            let mut rest = &wire[..];
            while !rest.is_empty() {
                let n = rng.gen_range(1..=max_fragment.min(rest.len()));
                b.decode(&rest[..n], &mut got).unwrap();
                rest = &rest[n..];
            }
            assert_eq!(got, cells, "fragments up to {max_fragment}");
            assert_eq!(b.buffered(), 0);
        }
    }

    #[test]
    fn both_directions_are_independent() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let (mut a, mut b) = pair();
        for _ in 0..10 {
            let (ca, cb) = (random_cells(&mut rng, 3), random_cells(&mut rng, 2));
            let (mut wa, mut wb) = (Vec::new(), Vec::new());
            a.encode_all(&ca, &mut wa);
            b.encode_all(&cb, &mut wb);
            let (mut ga, mut gb) = (Vec::new(), Vec::new());
            b.decode(&wa, &mut gb).unwrap();
            a.decode(&wb, &mut ga).unwrap();
            assert_eq!((gb, ga), (ca, cb));
        }
    }

    #[test]
    fn unknown_command_poisons_the_codec() {
        // Byte by byte (cells assembled in the codec) and all at once (decoded in place).
        for chunk in [1, usize::MAX] {
            let mut rng = ChaCha20Rng::seed_from_u64(4);
            let cells = random_cells(&mut rng, 2);
            let (mut a, mut b) = pair();
            let mut wire = Vec::new();
            a.encode_all(&cells, &mut wire);
            // A third cell whose command decrypts to 4: crypt the header by hand with a's stream.
            let mut bad = [0u8; CELL_LEN];
            bad[field::COMMAND] = 4;
            a.tx.apply(&mut bad[..HEADER_LEN]);
            wire.extend_from_slice(&bad);
            a.encode_all(&cells, &mut wire);

            let mut got = Vec::new();
            let mut result = Ok(());
            for piece in wire.chunks(chunk.min(wire.len())) {
                result = b.decode(piece, &mut got);
                if result.is_err() {
                    break;
                }
            }
            assert_eq!(result, Err(LinkError::UnknownCommand(4)), "chunk {chunk}");
            assert_eq!(got, cells, "cells before the bad one are delivered");
            assert!(b.is_failed());
            assert_eq!(b.decode(&wire[..CELL_LEN], &mut got), Err(LinkError::Failed(4)));
            assert_eq!(b.decode(&[], &mut got), Err(LinkError::Failed(4)));
            assert_eq!(got.len(), 2);
        }
    }

    #[test]
    fn a_lost_byte_is_detected_soon() {
        // Keystream out of step: random headers decode to an unknown command with p = 252/256.
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let cells = random_cells(&mut rng, 50);
        let (mut a, mut b) = pair();
        let mut wire = Vec::new();
        a.encode_all(&cells, &mut wire);
        let mut got = Vec::new();
        assert!(b.decode(&wire[1..], &mut got).is_err());
    }

    proptest! {
        #[test]
        fn decode_never_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
            cuts in proptest::collection::vec(1usize..60, 1..20),
        ) {
            let (_, mut b) = pair();
            let mut out = Vec::new();
            let mut rest = &bytes[..];
            for cut in cuts.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let n = (*cut).min(rest.len());
                let _ = b.decode(&rest[..n], &mut out);
                rest = &rest[n..];
            }
            prop_assert!(out.len() <= bytes.len() / CELL_LEN);
            prop_assert!(b.buffered() < CELL_LEN);
        }
    }
}
