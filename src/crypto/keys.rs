//! Key derivation of protocol.md §4: key1..3 from the 16-byte key seed by chained SHA-1.

use sha1::{Digest, Sha1};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Bytes of one derived key (a SHA-1 output).
pub const KEY_LEN: usize = 20;

/// The three keys of one onion layer.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct KeySet {
    /// Crypts the onion remainder (DES-OFB).
    pub key1: [u8; KEY_LEN],
    /// Backward direction.
    pub key2: [u8; KEY_LEN],
    /// Forward direction.
    pub key3: [u8; KEY_LEN],
}

impl KeySet {
    pub fn derive(seed: &[u8; 16]) -> KeySet {
        let key1: [u8; KEY_LEN] = Sha1::digest(seed).into();
        let key2: [u8; KEY_LEN] = Sha1::digest(key1).into();
        let key3: [u8; KEY_LEN] = Sha1::digest(key2).into();
        KeySet { key1, key2, key3 }
    }

    /// key1 as a DES key (its first 8 bytes).
    pub fn key1_des(&self) -> [u8; 8] {
        let mut k = [0u8; 8];
        k.copy_from_slice(&self.key1[..8]);
        k
    }
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeySet(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FIPS 180-2 appendix A: SHA-1("abc") and the 448-bit message.
    #[test]
    fn sha1_fips180_examples() {
        assert_eq!(hex::encode(Sha1::digest(b"abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            hex::encode(Sha1::digest(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
    }

    #[test]
    fn derivation_is_chained_sha1() {
        let seed = [0x42u8; 16];
        let k = KeySet::derive(&seed);
        assert_eq!(k.key1, <[u8; 20]>::from(Sha1::digest(seed)));
        assert_eq!(k.key2, <[u8; 20]>::from(Sha1::digest(k.key1)));
        assert_eq!(k.key3, <[u8; 20]>::from(Sha1::digest(k.key2)));
    }
}
