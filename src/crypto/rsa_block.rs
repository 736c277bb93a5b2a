//! Raw ("textbook") RSA on 128-byte blocks for onions (protocol.md §5), and loading and writing the
//! 1024-bit keys of protocol.md §4 (PKCS#8 private, SubjectPublicKeyInfo public, PEM).

use std::path::Path;

use rand::{CryptoRng, RngCore};
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPrivateKey, RsaPublicKey};
use thiserror::Error;

/// Bytes of an RSA block (1024-bit modulus).
pub const RSA_BLOCK_LEN: usize = 128;
/// Modulus size in bits.
pub const MODULUS_BITS: usize = 1024;
/// The only public exponent.
pub const PUBLIC_EXPONENT: u32 = 65537;

#[derive(Debug, Error)]
pub enum KeyError {
    #[error("{path}: cannot read: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: not a PEM RSA {what} key: {detail}")]
    Parse { path: String, what: &'static str, detail: String },
    #[error("{path}: {kind}, not an RSA key: ork's keys are 1024-bit RSA (make them with `ork keygen`)")]
    NotRsa { path: String, kind: String },
    #[error("{path}: modulus is {bits} bits, must be exactly {MODULUS_BITS}")]
    Size { path: String, bits: usize },
    #[error("{path}: public exponent must be {PUBLIC_EXPONENT}")]
    Exponent { path: String },
    #[error("RSA failure: {0}")]
    Rsa(String),
    #[error("RSA block is not smaller than the modulus")]
    BlockTooLarge,
    #[error(
        "{path}: private key file mode {mode:04o} lets group or others access it; chmod 600 it (or --allow-open-key)"
    )]
    OpenPermissions { path: String, mode: u32 },
}

fn check_shape(path: &str, key: &impl PublicKeyParts) -> Result<(), KeyError> {
    let bits = key.n().bits();
    if bits != MODULUS_BITS {
        return Err(KeyError::Size { path: path.into(), bits });
    }
    if *key.e() != BigUint::from(PUBLIC_EXPONENT) {
        return Err(KeyError::Exponent { path: path.into() });
    }
    Ok(())
}

/// Parse a private key from PEM text (PKCS#8, or PKCS#1 as OpenSSL's older tools write).
pub fn private_key_from_pem(pem: &str, origin: &str) -> Result<RsaPrivateKey, KeyError> {
    let key = RsaPrivateKey::from_pkcs8_pem(pem)
        .or_else(|e| RsaPrivateKey::from_pkcs1_pem(pem).map_err(|_| e))
        .map_err(|e| parse_error(pem, origin, "private", e))?;
    check_shape(origin, &key)?;
    Ok(key)
}

/// Parse a public key from PEM text (SubjectPublicKeyInfo, or PKCS#1).
pub fn public_key_from_pem(pem: &str, origin: &str) -> Result<RsaPublicKey, KeyError> {
    let key = RsaPublicKey::from_public_key_pem(pem)
        .or_else(|e| RsaPublicKey::from_pkcs1_pem(pem).map_err(|_| e))
        .map_err(|e| parse_error(pem, origin, "public", e))?;
    check_shape(origin, &key)?;
    Ok(key)
}

/// Why `pem` is not an RSA key: another kind of key, or not a key at all.
fn parse_error(pem: &str, origin: &str, what: &'static str, e: impl std::fmt::Display) -> KeyError {
    match super::key_kind::non_rsa_key(pem) {
        Some(kind) => KeyError::NotRsa { path: origin.into(), kind },
        None => KeyError::Parse { path: origin.into(), what, detail: e.to_string() },
    }
}

fn read(path: &Path) -> Result<String, KeyError> {
    crate::input_file::read_to_string(path, crate::input_file::KEY_FILE_MAX, "a key file")
        .map_err(|source| KeyError::Read { path: path.display().to_string(), source })
}

/// Load a private key file, refusing one that group or others can access (see `key_file.rs`).
pub fn load_private_key(path: &Path) -> Result<RsaPrivateKey, KeyError> {
    super::key_file::load_private_key_file(path, super::key_file::OpenKey::Refuse)
}

pub fn load_public_key(path: &Path) -> Result<RsaPublicKey, KeyError> {
    public_key_from_pem(&read(path)?, &path.display().to_string())
}

/// Generate a key pair of protocol.md §4.
pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Result<RsaPrivateKey, KeyError> {
    loop {
        let key = RsaPrivateKey::new_with_exp(rng, MODULUS_BITS, &BigUint::from(PUBLIC_EXPONENT))
            .map_err(|e| KeyError::Rsa(e.to_string()))?;
        if key.n().bits() == MODULUS_BITS {
            return Ok(key);
        }
    }
}

/// The PEM texts (PKCS#8 private, SPKI public) of a key.
pub fn to_pem(key: &RsaPrivateKey) -> Result<(zeroize::Zeroizing<String>, String), KeyError> {
    let private = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| KeyError::Rsa(e.to_string()))?;
    let public = key.to_public_key().to_public_key_pem(LineEnding::LF).map_err(|e| KeyError::Rsa(e.to_string()))?;
    Ok((private, public))
}

fn to_block(v: &BigUint) -> Result<[u8; RSA_BLOCK_LEN], KeyError> {
    let bytes = v.to_bytes_be();
    if bytes.len() > RSA_BLOCK_LEN {
        return Err(KeyError::BlockTooLarge);
    }
    let mut out = [0u8; RSA_BLOCK_LEN];
    out[RSA_BLOCK_LEN - bytes.len()..].copy_from_slice(&bytes);
    Ok(out)
}

/// m^e mod n, written as exactly 128 bytes.
pub fn encrypt_block(key: &RsaPublicKey, block: &[u8; RSA_BLOCK_LEN]) -> Result<[u8; RSA_BLOCK_LEN], KeyError> {
    let m = BigUint::from_bytes_be(block);
    if &m >= key.n() {
        return Err(KeyError::BlockTooLarge);
    }
    let c = rsa::hazmat::rsa_encrypt(key, &m).map_err(|e| KeyError::Rsa(e.to_string()))?;
    to_block(&c)
}

/// c^d mod n, written as exactly 128 bytes: in constant time (see `ct_rsa.rs`).
pub fn decrypt_block(
    key: &RsaPrivateKey,
    block: &[u8; RSA_BLOCK_LEN],
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<[u8; RSA_BLOCK_LEN], KeyError> {
    super::ct_rsa::decrypt_block(key, block, rng)
}

/// c^d mod n by the `rsa` crate (CRT and blinding, but variable-time big-number arithmetic:
/// RUSTSEC-2023-0071). Not used on the onion path: kept as the reference the constant-time
/// code is tested against, and as the "before" of the timing benchmark.
pub fn decrypt_block_reference(
    key: &RsaPrivateKey,
    block: &[u8; RSA_BLOCK_LEN],
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<[u8; RSA_BLOCK_LEN], KeyError> {
    let c = BigUint::from_bytes_be(block);
    if &c >= key.n() {
        return Err(KeyError::BlockTooLarge);
    }
    let m = rsa::hazmat::rsa_decrypt_and_check(key, Some(rng), &c).map_err(|e| KeyError::Rsa(e.to_string()))?;
    to_block(&m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn raw_rsa_round_trips_and_refuses_large_blocks() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let key = generate(&mut rng).unwrap();
        let mut block = [0x5au8; RSA_BLOCK_LEN];
        block[0] = 0x01;
        let c = encrypt_block(&key.to_public_key(), &block).unwrap();
        assert_eq!(decrypt_block(&key, &c, &mut rng).unwrap(), block);
        assert!(matches!(decrypt_block(&key, &[0xff; RSA_BLOCK_LEN], &mut rng), Err(KeyError::BlockTooLarge)));
        let (private, public) = to_pem(&key).unwrap();
        assert_eq!(private_key_from_pem(&private, "t").unwrap(), key);
        assert_eq!(public_key_from_pem(&public, "t").unwrap(), key.to_public_key());
    }
}
