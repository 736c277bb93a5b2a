//! Target `cell_link`: cells from link bytes (protocol.md §1) through [`LinkCodec::decode`] with fixed
//! DES-OFB keys, in arbitrary fragments, and [`Cell::parse`] on the raw bytes.
//!
//! Input: one flags byte (bit 7: the rest is plaintext cells the harness link-encrypts first,
//! command byte taken mod 4; bits 0–6: the fragmentation pattern), then the bytes.
//!
//! Checked: decoding does not depend on how the stream is cut; every decoded cell re-encodes to
//! the exact wire bytes it came from; after an unknown command the codec refuses everything;
//! `Cell::parse` round-trips.

use crate::crypto::Engine;
use crate::link::codec::{LinkCodec, LinkError};
use crate::wire::cell::{Aci, Cell, Command, BODY_LEN, CELL_LEN};
use crate::wire::Reader;

use super::{fragments, Input};

/// The receiving side's DES key (the sender's transmit key).
pub const RX_KEY: [u8; 8] = *b"fuzz-rx!";
const TX_KEY: [u8; 8] = *b"fuzz-tx!";

/// The codec under test: it receives with [`RX_KEY`].
pub fn receiver() -> LinkCodec {
    LinkCodec::new(Engine::des_ofb(&TX_KEY), Engine::des_ofb(&RX_KEY))
}

/// The peer that sends to [`receiver`].
pub fn sender() -> LinkCodec {
    LinkCodec::new(Engine::des_ofb(&RX_KEY), Engine::des_ofb(&TX_KEY))
}

pub fn cell_link(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.u8();
    let rest = input.rest();
    let wire = if flags & 0x80 != 0 { encrypt_plain(rest) } else { rest.to_vec() };

    // The whole stream at once.
    let mut whole = receiver();
    let mut cells = Vec::new();
    let result = whole.decode(&wire, &mut cells);
    assert!(cells.len() <= wire.len() / CELL_LEN);

    // The same stream in fragments must give the same cells and the same verdict.
    let mut split = receiver();
    let mut got = Vec::new();
    let mut split_result = Ok(());
    for piece in fragments(&wire, flags & 0x7f, 3 * CELL_LEN) {
        split_result = split.decode(piece, &mut got);
        if split_result.is_err() {
            break;
        }
    }
    assert_eq!(got, cells, "decoding depends on fragmentation");
    assert_eq!(split_result, result);
    assert!(split.buffered() < CELL_LEN);

    // What decoded re-encodes to the bytes it came from.
    let mut again = Vec::new();
    sender().encode_all(&cells, &mut again);
    assert_eq!(again[..], wire[..cells.len() * CELL_LEN], "decode then encode is not the identity");

    match result {
        Ok(()) => assert_eq!(whole.buffered(), wire.len() % CELL_LEN),
        Err(LinkError::UnknownCommand(byte)) => {
            assert!(whole.is_failed() && byte > 3);
            assert_eq!(whole.decode(&[0], &mut cells), Err(LinkError::Failed(byte)));
            assert_eq!(whole.decode(&[], &mut cells), Err(LinkError::Failed(byte)));
        }
        Err(LinkError::Failed(_)) => panic!("a fresh codec reported an earlier failure"),
    }

    // Plaintext cell parsing.
    let mut r = Reader::new(&wire);
    while let Ok(cell) = Cell::parse(&mut r) {
        let _ = (cell.data(), cell.length(), format!("{cell:?}"));
    }
    for chunk in wire.chunks_exact(CELL_LEN) {
        let bytes: &[u8; CELL_LEN] = chunk.try_into().expect("exact chunk");
        if let Ok(cell) = Cell::from_bytes(bytes) {
            assert_eq!(&cell.to_bytes(), bytes);
            assert!(cell.data().map_or(true, |d| d.len() == usize::from(cell.length())));
        }
    }
}

/// Link-encrypt plaintext cells (command byte mod 4) as [`sender`] would.
fn encrypt_plain(plain: &[u8]) -> Vec<u8> {
    const COMMANDS: [Command; 4] = [Command::Padding, Command::Create, Command::Data, Command::Destroy];
    let mut codec = sender();
    let mut out = Vec::with_capacity(plain.len());
    for chunk in plain.chunks(CELL_LEN) {
        let mut c = [0u8; CELL_LEN];
        c[..chunk.len()].copy_from_slice(chunk);
        let mut body = [0u8; BODY_LEN];
        body.copy_from_slice(&c[3..]);
        let cell = Cell { aci: Aci(u16::from_be_bytes([c[0], c[1]])), command: COMMANDS[usize::from(c[2] % 4)], body };
        codec.encode(&cell, &mut out);
    }
    out
}
