//! Diffie–Hellman in RFC 2409 Oakley group 2 (1024-bit MODP, g = 2) for STS link keying, and
//! the derivation of the two DES link keys from Z (protocol.md §3).
//!
//! Arithmetic is `crypto-bigint`'s constant-time Montgomery exponentiation, bounded to the 256
//! bits of a private exponent. Private exponents, Z and the link keys are zeroized on drop.

use std::sync::OnceLock;

use crypto_bigint::modular::runtime_mod::{DynResidue, DynResidueParams};
use crypto_bigint::{Encoding, U1024, U256};
use rand::{CryptoRng, RngCore};
use sha1::{Digest, Sha1};
use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Bytes of a public value or of Z: 128-byte big-endian integers.
pub const DH_LEN: usize = 128;
/// Bytes of a private exponent (256 random bits).
pub const EXPONENT_LEN: usize = 32;
/// Bits of a private exponent.
const EXPONENT_BITS: usize = EXPONENT_LEN * 8;
/// Bytes of a DES link key.
pub const LINK_KEY_LEN: usize = 8;

/// The Oakley group 2 prime, 2^1024 − 2^960 − 1 + 2^64·(⌊2^894·π⌋ + 129093) (RFC 2409 §6.2).
pub(crate) const P: U1024 = U1024::from_be_hex(concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1",
    "29024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245",
    "E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381",
    "FFFFFFFFFFFFFFFF",
));
/// The generator.
const G: U1024 = U1024::from_u8(2);

/// Suffix bytes of the key derivation `SHA1(Z ‖ tag)`.
const TAG_DIALLER_TO_LISTENER: u8 = 0x01;
const TAG_LISTENER_TO_DIALLER: u8 = 0x02;

fn params() -> DynResidueParams<{ U1024::LIMBS }> {
    static PARAMS: OnceLock<DynResidueParams<{ U1024::LIMBS }>> = OnceLock::new();
    *PARAMS.get_or_init(|| DynResidueParams::new(&P))
}

/// A peer's public value outside 1 < y < p−1 (or not below p at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("Diffie-Hellman public value is not in 1 < y < p-1")]
pub struct BadPublicValue;

/// Parse and validate a peer's public value: 1 < y < p−1 (protocol.md §3).
pub fn check_public(y: &[u8; DH_LEN]) -> Result<U1024, BadPublicValue> {
    let v = U1024::from_be_slice(y);
    let p_minus_1 = P.wrapping_sub(&U1024::ONE);
    if v > U1024::ONE && v < p_minus_1 {
        Ok(v)
    } else {
        Err(BadPublicValue)
    }
}

/// `base^exponent mod p` in constant time over the 256 exponent bits, as 128 bytes.
fn pow(base: &U1024, exponent: &U256) -> [u8; DH_LEN] {
    let mut r = DynResidue::new(base, params()).pow_bounded_exp(exponent, EXPONENT_BITS);
    let mut v = r.retrieve();
    let out = v.to_be_bytes();
    r.zeroize();
    v.zeroize();
    out
}

/// A private exponent x (or y).
pub struct DhSecret {
    exponent: Zeroizing<U256>,
}

impl DhSecret {
    /// 256 fresh random bits.
    pub fn random(rng: &mut (impl RngCore + CryptoRng)) -> DhSecret {
        let mut bytes = Zeroizing::new([0u8; EXPONENT_LEN]);
        rng.fill_bytes(&mut bytes[..]);
        DhSecret::from_exponent_bytes(&bytes)
    }

    /// A fixed exponent (big-endian), for known-answer tests only.
    #[doc(hidden)]
    pub fn from_exponent_bytes(bytes: &[u8; EXPONENT_LEN]) -> DhSecret {
        DhSecret { exponent: Zeroizing::new(U256::from_be_slice(bytes)) }
    }

    /// Our public value g^x, as 128 big-endian bytes.
    pub fn public_value(&self) -> [u8; DH_LEN] {
        pow(&G, &self.exponent)
    }

    /// Z = peer^x after checking the peer's value.
    pub fn agree(&self, peer: &[u8; DH_LEN]) -> Result<SharedSecret, BadPublicValue> {
        let y = check_public(peer)?;
        Ok(SharedSecret(Zeroizing::new(pow(&y, &self.exponent))))
    }
}

impl std::fmt::Debug for DhSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DhSecret(..)")
    }
}

/// Z = g^xy, 128 big-endian bytes.
pub struct SharedSecret(Zeroizing<[u8; DH_LEN]>);

impl SharedSecret {
    pub fn as_bytes(&self) -> &[u8; DH_LEN] {
        &self.0
    }

    /// `K_DL = SHA1(Z ‖ 0x01)[0..8]`, `K_LD = SHA1(Z ‖ 0x02)[0..8]`.
    pub fn link_keys(&self) -> LinkKeys {
        LinkKeys {
            dialler_to_listener: self.derive(TAG_DIALLER_TO_LISTENER),
            listener_to_dialler: self.derive(TAG_LISTENER_TO_DIALLER),
        }
    }

    fn derive(&self, tag: u8) -> [u8; LINK_KEY_LEN] {
        let mut digest: [u8; 20] = Sha1::new().chain_update(&self.0[..]).chain_update([tag]).finalize().into();
        let mut key = [0u8; LINK_KEY_LEN];
        key.copy_from_slice(&digest[..LINK_KEY_LEN]);
        digest.zeroize();
        key
    }
}

impl std::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedSecret(..)")
    }
}

/// The two DES link keys, one per direction (parity bits ignored).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct LinkKeys {
    /// `K_DL`: crypts message 3 and the dialler's cells.
    pub dialler_to_listener: [u8; LINK_KEY_LEN],
    /// `K_LD`: crypts message 2's signature and the listener's cells.
    pub listener_to_dialler: [u8; LINK_KEY_LEN],
}

impl std::fmt::Debug for LinkKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKeys(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn be(v: &U1024) -> [u8; DH_LEN] {
        v.to_be_bytes()
    }

    #[test]
    fn prime_is_rfc2409_group2() {
        // RFC 2409 §6.2: the prime is 2^1024 - 2^960 - 1 + 2^64 * { [2^894 pi] + 129093 };
        // check its fixed top and bottom 64 bits and its size.
        let p = be(&P);
        assert_eq!(&p[..8], &[0xff; 8]);
        assert_eq!(&p[DH_LEN - 8..], &[0xff; 8]);
        assert_eq!(P.bits(), 1024);
    }

    #[test]
    fn both_sides_agree() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
        let a = DhSecret::random(&mut rng);
        let b = DhSecret::random(&mut rng);
        let za = a.agree(&b.public_value()).unwrap();
        let zb = b.agree(&a.public_value()).unwrap();
        assert_eq!(za.as_bytes(), zb.as_bytes());
        let (ka, kb) = (za.link_keys(), zb.link_keys());
        assert_eq!(ka.dialler_to_listener, kb.dialler_to_listener);
        assert_eq!(ka.listener_to_dialler, kb.listener_to_dialler);
        assert_ne!(ka.dialler_to_listener, ka.listener_to_dialler);
    }

    #[test]
    fn small_exponent_gives_known_power() {
        let mut x = [0u8; EXPONENT_LEN];
        x[EXPONENT_LEN - 1] = 10;
        let mut want = [0u8; DH_LEN];
        want[DH_LEN - 2..].copy_from_slice(&1024u16.to_be_bytes());
        assert_eq!(DhSecret::from_exponent_bytes(&x).public_value(), want);
    }

    #[test]
    fn refuses_out_of_range_values() {
        let s = DhSecret::random(&mut rand_chacha::ChaCha20Rng::seed_from_u64(6));
        let p = be(&P);
        let p_minus_1 = be(&P.wrapping_sub(&U1024::ONE));
        let p_plus_1 = be(&P.wrapping_add(&U1024::ONE));
        for bad in [[0u8; DH_LEN], be(&U1024::ONE), p_minus_1, p, p_plus_1, [0xff; DH_LEN]] {
            assert_eq!(s.agree(&bad).err(), Some(BadPublicValue));
        }
        let two = be(&U1024::from_u8(2));
        let p_minus_2 = be(&P.wrapping_sub(&U1024::from_u8(2)));
        assert!(check_public(&two).is_ok());
        assert!(check_public(&p_minus_2).is_ok());
    }
}
