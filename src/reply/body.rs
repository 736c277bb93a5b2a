//! The 45-byte bodies (Length ‖ Payload) of a reply connection: framing at the user, and the
//! owner's crypting with all n hops' engines of the route it built.

use rand::RngCore;
use thiserror::Error;

use crate::crypto::{CipherCode, Engine, KeySet};
use crate::wire::cell::{BODY_LEN, PAYLOAD_LEN};
use crate::wire::layer::SEED_LEN;

/// One DATA body: Length then 44 bytes of payload.
pub type Body = [u8; BODY_LEN];

/// A body whose Length is over 44.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("body Length {0} is over {PAYLOAD_LEN}")]
pub struct BadLength(pub u8);

/// Frame up to 44 bytes (0 = end of stream) into a body with random padding; bytes beyond 44
/// are the caller's to send in the next body (they are not framed here).
pub fn frame(data: &[u8], rng: &mut impl RngCore) -> Body {
    let n = data.len().min(PAYLOAD_LEN);
    let mut body = [0u8; BODY_LEN];
    rng.fill_bytes(&mut body[1..]);
    body[0] = n as u8;
    body[1..1 + n].copy_from_slice(&data[..n]);
    body
}

/// The data of a body (empty = end of stream).
pub fn unframe(body: &Body) -> Result<&[u8], BadLength> {
    let n = body[0];
    if usize::from(n) > PAYLOAD_LEN {
        return Err(BadLength(n));
    }
    Ok(&body[1..1 + usize::from(n)])
}

/// The owner's per-hop engines of one reply route: n forward (key3) and n backward (key2).
#[derive(Debug)]
pub struct RouteEngines {
    forward: Vec<Engine>,
    backward: Vec<Engine>,
}

impl RouteEngines {
    /// Engines for the route whose hops have `seeds` (entry first).
    pub fn new(seeds: &[[u8; SEED_LEN]], forw_f: CipherCode, back_f: CipherCode) -> RouteEngines {
        let keys: Vec<KeySet> = seeds.iter().map(KeySet::derive).collect();
        RouteEngines {
            forward: keys.iter().map(|k| Engine::new(forw_f, &k.key3)).collect(),
            backward: keys.iter().map(|k| Engine::new(back_f, &k.key2)).collect(),
        }
    }

    /// A body as it left hn towards the endpoint → the body the user framed (the stream
    /// ciphers commute, so applying the n forward engines again undoes the route's crypting).
    pub fn open_forward(&mut self, body: &mut Body) {
        self.forward.iter_mut().for_each(|e| e.apply(body));
    }

    /// A body the owner framed → what hn must receive so that the user reads it in clear.
    pub fn seal_backward(&mut self, body: &mut Body) {
        self.backward.iter_mut().for_each(|e| e.apply(body));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn frame_unframe() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let b = frame(b"hello", &mut rng);
        assert_eq!(unframe(&b), Ok(&b"hello"[..]));
        assert_eq!(unframe(&frame(&[], &mut rng)), Ok(&[][..]));
        assert_eq!(unframe(&frame(&[7; 60], &mut rng)).map(<[u8]>::len), Ok(PAYLOAD_LEN));
        let mut bad = b;
        bad[0] = 45;
        assert_eq!(unframe(&bad), Err(BadLength(45)));
    }

    #[test]
    fn owner_engines_undo_the_hops() {
        let seeds = [[1u8; SEED_LEN], [2; SEED_LEN], [3; SEED_LEN]];
        let mut hops: Vec<Engine> =
            seeds.iter().map(|s| Engine::new(CipherCode::Rc4, &KeySet::derive(s).key3)).collect();
        let mut owner = RouteEngines::new(&seeds, CipherCode::Rc4, CipherCode::Aes128Ctr);
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
        for msg in [&b"one"[..], b"two two"] {
            let sent = frame(msg, &mut rng);
            let mut b = sent;
            hops.iter_mut().for_each(|e| e.apply(&mut b));
            owner.open_forward(&mut b);
            assert_eq!(b, sent);
        }
    }
}
