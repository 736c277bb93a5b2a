//! Target `onion_peel`: peeling a 240-byte onion (protocol.md §5) with a fixed router key (the vectors'
//! key 0, so the known-answer onions are valid seeds), and the freshness rule.
//!
//! Input: a mode byte, then
//! - mode even: the onion itself (zero-filled to 240 bytes), peeled as a router does;
//! - mode odd: a 128-byte plaintext RSA block and the 112-byte rest; the harness encrypts the
//!   block with the public key and peels, so layer parsing sees chosen bytes.
//!
//! then a `now` (u32) and a maximum lifetime (u16) for [`check_fresh`].
//!
//! Checked: peeling fails only with a typed error; when the harness encrypted the block, the
//! peel succeeds exactly when the plaintext is a valid layer, reveals that layer, and yields the
//! inner onion of protocol.md §5 (rest of the block, the remainder decrypted with key1's DES-OFB, then
//! the re-padding); `check_fresh` is the window now ≤ expiration ≤ now + lifetime.

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use crate::crypto::rsa_block::{encrypt_block, RSA_BLOCK_LEN};
use crate::crypto::Engine;
use crate::onion::{check_fresh, peel, peel_raw, Onion, OnionError, INNER_LEN, ONION_LEN};
use crate::wire::layer::{Layer, LAYER_LEN};

use super::keys::{vector_keys, NOW_UNIX};
use super::Input;

/// Longest onion lifetime a router accepts by default (protocol.md §5).
const MAX_LIFETIME: u64 = 3600;

pub fn onion_peel(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.u8();
    let key = &vector_keys()[0];
    let mut rng = ChaCha20Rng::seed_from_u64(u64::from(mode));
    let body: [u8; ONION_LEN] = input.array();
    let repad: [u8; LAYER_LEN] = [0xa5; LAYER_LEN];

    if mode % 2 == 0 {
        // One RSA operation per run (they dominate its cost): `peel` is `peel_raw` with random
        // re-padding followed by `check_fresh`.
        match peel(key, &body, NOW_UNIX, MAX_LIFETIME, &mut rng) {
            Ok(p) => {
                assert!(check_fresh(&p.layer, NOW_UNIX, MAX_LIFETIME).is_ok());
                assert_eq!(Layer::parse(&p.layer.to_bytes()).as_ref(), Ok(&p.layer));
            }
            Err(
                OnionError::Rsa(_) | OnionError::Layer(_) | OnionError::Expired { .. } | OnionError::TooFarAhead { .. },
            ) => {}
            Err(e) => panic!("peel failed with {e:?}"),
        }
    } else {
        let mut head = [0u8; RSA_BLOCK_LEN];
        head.copy_from_slice(&body[..RSA_BLOCK_LEN]);
        if let Ok(cipher) = encrypt_block(&key.to_public_key(), &head) {
            let mut onion: Onion = body;
            onion[..RSA_BLOCK_LEN].copy_from_slice(&cipher);
            let expected = Layer::parse(&head);
            match (peel_raw(key, &onion, &repad, &mut rng), expected) {
                (Ok(p), Ok(layer)) => {
                    assert_eq!(p.layer, layer);
                    assert_eq!(p.layer.to_bytes()[..], head[..LAYER_LEN], "layer does not round-trip");
                    let split = RSA_BLOCK_LEN - LAYER_LEN;
                    assert_eq!(p.inner[..split], head[LAYER_LEN..]);
                    let mut tail = body[RSA_BLOCK_LEN..].to_vec();
                    Engine::des_ofb(&p.keys.key1_des()).apply(&mut tail);
                    assert_eq!(p.inner[split..INNER_LEN], tail[..]);
                    assert_eq!(p.inner[INNER_LEN..], repad);
                }
                (Err(OnionError::Layer(a)), Err(b)) => assert_eq!(a, b),
                (got, want) => panic!("peel of a chosen block: {:?} vs layer {want:?}", got.map(|p| p.layer)),
            }
        }
    }

    // The freshness window on an arbitrary layer.
    let now = u64::from(input.u32());
    let lifetime = u64::from(input.u16());
    let expiration = input.u32();
    let layer = Layer { expiration, ..Layer::parse(&[1; LAYER_LEN]).expect("a valid layer") };
    let fresh = check_fresh(&layer, now, lifetime).is_ok();
    let exp = u64::from(expiration);
    assert_eq!(fresh, now <= exp && exp <= now + lifetime);
}
