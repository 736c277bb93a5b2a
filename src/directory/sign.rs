//! Signatures on directory documents: RSASSA-PKCS1-v1_5 with SHA-256 under the signer's
//! 1024-bit RSA key, and key fingerprints (SHA-256 of the SubjectPublicKeyInfo DER).
//!
//! SHA-256 rather than the SHA-1 of the STS handshake: a handshake signs fresh random DH values,
//! so a collision does an attacker no good, but a document's signer signs text an attacker
//! partly chooses (a descriptor's name, an authority's view of other routers' descriptors), and
//! SHA-1 chosen-prefix collisions are practical.

use rsa::pkcs8::{DecodePublicKey, EncodePublicKey};
use rsa::{Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};

use crate::crypto::rsa_block::public_key_from_pem;
use crate::crypto::RSA_BLOCK_LEN;

/// Bytes of a key fingerprint shown in documents (the first 20 bytes of SHA-256 of the key's
/// SubjectPublicKeyInfo DER).
pub const FINGERPRINT_LEN: usize = 20;

/// A key's fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub [u8; FINGERPRINT_LEN]);

impl Fingerprint {
    pub fn of(key: &RsaPublicKey) -> Fingerprint {
        let digest = Sha256::digest(key_der(key));
        let mut f = [0u8; FINGERPRINT_LEN];
        f.copy_from_slice(&digest[..FINGERPRINT_LEN]);
        Fingerprint(f)
    }

    /// Parse 40 hex digits.
    pub fn from_hex(s: &str) -> Option<Fingerprint> {
        let mut f = [0u8; FINGERPRINT_LEN];
        hex::decode_to_slice(s, &mut f).ok()?;
        Some(Fingerprint(f))
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// The key's SubjectPublicKeyInfo DER (empty if the encoder fails, which it does not for an RSA
/// key; an empty encoding never parses back).
pub fn key_der(key: &RsaPublicKey) -> Vec<u8> {
    key.to_public_key_der().map(|d| d.as_bytes().to_vec()).unwrap_or_default()
}

/// A key as one line of hex DER.
pub fn key_to_hex(key: &RsaPublicKey) -> String {
    hex::encode(key_der(key))
}

/// Parse a key written by [`key_to_hex`], checking the shape of protocol.md §4 (1024 bits, e=65537).
pub fn key_from_hex(s: &str) -> Option<RsaPublicKey> {
    let der = hex::decode(s).ok()?;
    let key = RsaPublicKey::from_public_key_der(&der).ok()?;
    // Re-use the PEM loader's shape check on the decoded key.
    let pem = rsa::pkcs8::EncodePublicKey::to_public_key_pem(&key, rsa::pkcs8::LineEnding::LF).ok()?;
    public_key_from_pem(&pem, "key").ok()
}

/// Sign `body` (PKCS#1 v1.5, SHA-256). PKCS#1 v1.5 signing is deterministic: no randomness.
pub fn sign(key: &RsaPrivateKey, body: &[u8]) -> Option<Vec<u8>> {
    let digest = Sha256::digest(body);
    key.sign(Pkcs1v15Sign::new::<Sha256>(), &digest).ok()
}

/// Check a signature made by [`sign`].
pub fn verify(key: &RsaPublicKey, body: &[u8], sig: &[u8]) -> bool {
    let digest = Sha256::digest(body);
    sig.len() == RSA_BLOCK_LEN && key.verify(Pkcs1v15Sign::new::<Sha256>(), &digest, sig).is_ok()
}

#[cfg(test)]
pub(crate) mod test_keys {
    //! Deterministic keys for directory tests (generating 1024-bit keys is slow: cache them).

    use std::sync::OnceLock;

    use rand::SeedableRng;
    use rsa::RsaPrivateKey;

    /// The `i`th test key (i < 64).
    pub fn key(i: usize) -> RsaPrivateKey {
        static KEYS: OnceLock<std::sync::Mutex<Vec<Option<RsaPrivateKey>>>> = OnceLock::new();
        let keys = KEYS.get_or_init(|| std::sync::Mutex::new(vec![None; 64]));
        let mut keys = keys.lock().unwrap();
        keys[i]
            .get_or_insert_with(|| {
                let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1000 + i as u64);
                crate::crypto::rsa_block::generate(&mut rng).unwrap()
            })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_fingerprints() {
        let k = test_keys::key(0);
        let pk = k.to_public_key();
        let sig = sign(&k, b"body").unwrap();
        assert_eq!(sig.len(), RSA_BLOCK_LEN);
        assert!(verify(&pk, b"body", &sig));
        assert!(!verify(&pk, b"bodY", &sig));
        assert!(!verify(&test_keys::key(1).to_public_key(), b"body", &sig));
        assert!(!verify(&pk, b"body", &sig[1..]));
        let f = Fingerprint::of(&pk);
        assert_eq!(Fingerprint::from_hex(&f.to_string()), Some(f));
        assert_ne!(f, Fingerprint::of(&test_keys::key(1).to_public_key()));
        assert_eq!(key_from_hex(&key_to_hex(&pk)), Some(pk));
        assert_eq!(key_from_hex("00"), None);
        assert_eq!(key_from_hex("zz"), None);
    }
}
