//! The onion's raw RSA private operation (c^d mod n) in constant time: `crypto-bigint`'s
//! Montgomery arithmetic with fixed-window exponentiation over every exponent bit, CRT
//! (Garner's recombination), base blinding by a fresh random r (c·r^e, then ·r⁻¹), and a check
//! that the result encrypts back to c. The `rsa` crate keeps the keys and their PEM forms; its
//! own private operation (RUSTSEC-2023-0071, "Marvin") is used nowhere on the onion path.
//!
//! What still varies with time: the per-call conversion of the key's numbers (independent of
//! the ciphertext) and the refusal of c ≥ n (public).

use crypto_bigint::modular::runtime_mod::{DynResidue, DynResidueParams};
use crypto_bigint::subtle::{Choice, ConstantTimeEq};
use crypto_bigint::{Encoding, NonZero, RandomMod, Uint, U1024, U512};
use rand::{CryptoRng, RngCore};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BigUint, RsaPrivateKey};
use zeroize::Zeroizing;

use super::rsa_block::{KeyError, PUBLIC_EXPONENT, RSA_BLOCK_LEN};

/// Bits of the public exponent 65537 (its exponentiation may show them: they are public).
const E_BITS: usize = 17;

/// A big number of the `rsa` crate as a fixed-size one, if it fits.
fn fixed<const LIMBS: usize>(v: &BigUint) -> Option<Zeroizing<Uint<LIMBS>>> {
    let bytes = Zeroizing::new(v.to_bytes_be());
    let len = Uint::<LIMBS>::BYTES;
    if bytes.len() > len {
        return None;
    }
    let mut padded = Zeroizing::new(vec![0u8; len]);
    padded[len - bytes.len()..].copy_from_slice(&bytes);
    Some(Zeroizing::new(Uint::<LIMBS>::from_be_slice(&padded)))
}

/// A 1024-bit number reduced modulo an odd 512-bit modulus: hi·2^512 + lo, in residues.
fn reduce(c: &U1024, params: DynResidueParams<{ U512::LIMBS }>) -> DynResidue<{ U512::LIMBS }> {
    let (hi, lo) = c.split();
    // 2^512 mod m = (2^512 − 1) + 1.
    let two_512 = DynResidue::new(&U512::MAX, params) + DynResidue::one(params);
    DynResidue::new(&hi, params) * two_512 + DynResidue::new(&lo, params)
}

/// c^d mod n for a two-prime 1024-bit key, in constant time with respect to c and the key's
/// secrets; `block` must be below n (checked).
pub fn decrypt_block(
    key: &RsaPrivateKey,
    block: &[u8; RSA_BLOCK_LEN],
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<[u8; RSA_BLOCK_LEN], KeyError> {
    let unsupported = || KeyError::Rsa("constant-time RSA needs a two-prime 1024-bit key".into());
    let [p, q] = key.primes() else { return Err(unsupported()) };
    let n = fixed::<{ U1024::LIMBS }>(key.n()).ok_or_else(unsupported)?;
    let (p, q) =
        (fixed::<{ U512::LIMBS }>(p).ok_or_else(unsupported)?, fixed::<{ U512::LIMBS }>(q).ok_or_else(unsupported)?);
    let dp = key.dp().and_then(fixed::<{ U512::LIMBS }>).ok_or_else(unsupported)?;
    let dq = key.dq().and_then(fixed::<{ U512::LIMBS }>).ok_or_else(unsupported)?;
    let qinv = key.crt_coefficient().as_ref().and_then(fixed::<{ U512::LIMBS }>).ok_or_else(unsupported)?;
    let odd = |v: &[crypto_bigint::Word]| v[0] & 1 == 1;
    if !odd(p.as_words()) || !odd(q.as_words()) || !odd(n.as_words()) {
        return Err(unsupported());
    }
    let c = U1024::from_be_slice(block);
    if c >= *n {
        return Err(KeyError::BlockTooLarge);
    }
    let e = U1024::from_u32(PUBLIC_EXPONENT);
    let pn = DynResidueParams::new(&n);
    let pp = DynResidueParams::new(&p);
    let pq = DynResidueParams::new(&q);
    let n_nz = Option::<NonZero<U1024>>::from(NonZero::new(*n)).ok_or_else(unsupported)?;

    // Blinding: a random r invertible mod n (all but a negligible share are).
    let (r, r_inv) = loop {
        let r = DynResidue::new(&U1024::random_mod(rng, &n_nz), pn);
        let (r_inv, ok) = r.invert();
        if bool::from(Choice::from(ok)) {
            break (r, r_inv);
        }
    };
    let blinded = (DynResidue::new(&c, pn) * r.pow_bounded_exp(&e, E_BITS)).retrieve();

    // CRT: m1 = c^dp mod p, m2 = c^dq mod q, h = qinv·(m1 − m2) mod p, m = m2 + h·q.
    let m1 = reduce(&blinded, pp).pow(&*dp);
    let m2 = reduce(&blinded, pq).pow(&*dq).retrieve();
    let m2_mod_p = DynResidue::new(&m2, pp);
    let h = ((m1 - m2_mod_p) * DynResidue::new(&qinv, pp)).retrieve();
    let (hq_lo, hq_hi) = h.mul_wide(&q);
    let m_blinded = hq_hi.concat(&hq_lo).wrapping_add(&U512::ZERO.concat(&m2));
    let m = DynResidue::new(&m_blinded, pn) * r_inv;

    // Fault check: m^e must give c back.
    let check = m.pow_bounded_exp(&e, E_BITS).retrieve();
    if !bool::from(check.ct_eq(&c)) {
        return Err(KeyError::Rsa("RSA private operation failed its check".into()));
    }
    let out = m.retrieve().to_be_bytes();
    let mut block = [0u8; RSA_BLOCK_LEN];
    block.copy_from_slice(&out);
    Ok(block)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::rsa_block::{decrypt_block_reference, encrypt_block, private_key_from_pem};
    use proptest::prelude::*;
    use rand::SeedableRng;

    fn vector_keys() -> Vec<RsaPrivateKey> {
        let v: serde_json::Value = serde_json::from_str(include_str!("../../tests/vectors/onions.json")).unwrap();
        v["keys_pkcs8_pem"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| private_key_from_pem(p.as_str().unwrap(), "v").unwrap())
            .collect()
    }

    #[test]
    fn equals_the_rsa_crate_on_the_vector_keys() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(22);
        for key in vector_keys() {
            for fill in [0x00u8, 0x01, 0x5a, 0x7f] {
                let mut block = [fill; RSA_BLOCK_LEN];
                block[0] = 0;
                let c = encrypt_block(&key.to_public_key(), &block).unwrap();
                let old = decrypt_block_reference(&key, &c, &mut rng).unwrap();
                assert_eq!(decrypt_block(&key, &c, &mut rng).unwrap(), old);
                assert_eq!(old, block);
            }
            assert!(matches!(decrypt_block(&key, &[0xff; RSA_BLOCK_LEN], &mut rng), Err(KeyError::BlockTooLarge)));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn equals_the_rsa_crate_on_random_blocks(bytes in proptest::collection::vec(any::<u8>(), RSA_BLOCK_LEN), seed: u64) {
            let keys = vector_keys();
            let key = &keys[(seed % keys.len() as u64) as usize];
            let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
            let block: [u8; RSA_BLOCK_LEN] = bytes.try_into().unwrap();
            let old = decrypt_block_reference(key, &block, &mut rng);
            let new = decrypt_block(key, &block, &mut rng);
            match (old, new) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
                (Err(KeyError::BlockTooLarge), Err(KeyError::BlockTooLarge)) => {}
                (a, b) => prop_assert!(false, "{:?} vs {:?}", a.err(), b.err()),
            }
        }
    }
}
