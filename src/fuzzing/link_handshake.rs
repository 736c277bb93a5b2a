//! Target `link_handshake`: the STS handshake machines of protocol.md §3 ([`Listener`], [`Dialler`])
//! fed arbitrary peer bytes in arbitrary fragments, with the known-answer transcript's keys and
//! DH exponents (so `link.json`'s messages are valid seeds), then cells on the keyed link.
//!
//! Input: one flags byte (bits 0–1: 0 or 3 listener, 1 dialler with an identity, 2 anonymous
//! dialler; bits 2–7: the fragmentation pattern), then the peer's bytes.
//!
//! Checked: while a handshake is incomplete it takes every byte offered; it never takes more
//! than offered; once it has finished or failed it refuses further input with `Over`; the bytes
//! after the handshake decode as cells on the resulting codec without panicking.

use std::net::SocketAddrV4;
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use crate::link::handshake::{Dialler, HandshakeError, Listener, Progress};
use crate::link::LinkCodec;

use super::keys::{local, sts_exponents, vector_keys};
use super::{fragments, Input};

/// In `link.json` the dialler 127.0.0.1:9002 has key 0 and the listener 127.0.0.1:9001 key 1.
const DIALLER_PORT: u16 = 9002;
const LISTENER_PORT: u16 = 9001;

enum Machine {
    Listener(Box<Listener>),
    Dialler(Box<Dialler>),
}

impl Machine {
    fn read(&mut self, input: &[u8]) -> Result<Progress, HandshakeError> {
        let keys = vector_keys();
        let lookup = |a: SocketAddrV4| (a == local(DIALLER_PORT)).then(|| keys[0].to_public_key());
        match self {
            Machine::Listener(l) => l.read(input, &lookup),
            Machine::Dialler(d) => d.read(input),
        }
    }

    fn incomplete(&self) -> HandshakeError {
        match self {
            Machine::Listener(l) => l.incomplete(),
            Machine::Dialler(d) => d.incomplete(),
        }
    }
}

pub fn link_handshake(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.u8();
    let peer_bytes = input.rest();
    let keys = vector_keys();
    let (x, y) = sts_exponents();
    let mut rng = ChaCha20Rng::seed_from_u64(u64::from(flags));
    let mut machine = match flags % 4 {
        1 | 2 => {
            let local_id = (flags % 4 == 1).then(|| (local(DIALLER_PORT), Arc::clone(&keys[0])));
            let peer_key = keys[1].to_public_key();
            let (d, msg1) = Dialler::with_exponent(local_id, local(LISTENER_PORT), peer_key, &x, &mut rng)
                .expect("a dialler starts");
            assert_eq!(msg1.len(), crate::link::handshake::MSG1_LEN);
            Machine::Dialler(Box::new(d))
        }
        _ => Machine::Listener(Box::new(Listener::with_exponent(Arc::clone(&keys[1]), &y, &mut rng))),
    };

    let mut codec: Option<LinkCodec> = None;
    let mut failed = false;
    let mut cells = Vec::new();
    for piece in fragments(peer_bytes, flags >> 2, 300) {
        if let Some(c) = &mut codec {
            let _ = c.decode(piece, &mut cells);
            continue;
        }
        if failed {
            break;
        }
        match machine.read(piece) {
            Ok(p) => {
                assert!(p.consumed <= piece.len(), "consumed more than offered");
                match p.established {
                    Some(est) => {
                        let mut c = est.codec;
                        let _ = c.decode(&piece[p.consumed..], &mut cells);
                        codec = Some(c);
                        let _ = est.peer.to_string();
                    }
                    None => {
                        assert_eq!(p.consumed, piece.len(), "an incomplete handshake left bytes");
                        assert!(
                            matches!(machine.incomplete(), HandshakeError::Incomplete { have, need, .. } if have < need)
                        );
                    }
                }
            }
            Err(e) => {
                let _ = e.to_string();
                failed = true;
            }
        }
    }
    if codec.is_some() || failed {
        assert_eq!(machine.read(b"more").err(), Some(HandshakeError::Over));
        assert_eq!(machine.incomplete(), HandshakeError::Over);
    }
}
