//! Stream-cipher engines selected by the 4-bit function code of protocol.md §4.3: identity,
//! DES-OFB, RC4, AES-128-CTR and ChaCha20. Each engine is one continuous keystream.

use aes::Aes128;
use chacha20::ChaCha20;
use cipher::{KeyInit, KeyIvInit, StreamCipher};
use rc4::Rc4;
use sha1::{Digest, Sha1};

use super::fast_des::DesOfb;
use super::keys::KEY_LEN;
use super::keystream::Buffered;

/// A function code of an onion layer (BackF / ForwF).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CipherCode {
    Identity = 0,
    DesOfb = 1,
    Rc4 = 2,
    Aes128Ctr = 3,
    ChaCha20 = 4,
}

impl CipherCode {
    pub const ALL: [CipherCode; 5] =
        [CipherCode::Identity, CipherCode::DesOfb, CipherCode::Rc4, CipherCode::Aes128Ctr, CipherCode::ChaCha20];

    pub fn from_code(c: u8) -> Option<CipherCode> {
        CipherCode::ALL.into_iter().find(|x| *x as u8 == c)
    }

    pub fn code(self) -> u8 {
        self as u8
    }

    /// Name used on the command line and in printed layers.
    pub fn name(self) -> &'static str {
        match self {
            CipherCode::Identity => "identity",
            CipherCode::DesOfb => "des-ofb",
            CipherCode::Rc4 => "rc4",
            CipherCode::Aes128Ctr => "aes-128-ctr",
            CipherCode::ChaCha20 => "chacha20",
        }
    }

    /// Parse a command-line name (also accepts short forms and the numeric code).
    pub fn from_name(s: &str) -> Option<CipherCode> {
        match s.to_ascii_lowercase().as_str() {
            "0" | "none" | "identity" => Some(CipherCode::Identity),
            "1" | "des" | "des-ofb" => Some(CipherCode::DesOfb),
            "2" | "rc4" => Some(CipherCode::Rc4),
            "3" | "aes" | "aes-128-ctr" | "aes128ctr" => Some(CipherCode::Aes128Ctr),
            "4" | "chacha" | "chacha20" => Some(CipherCode::ChaCha20),
            _ => None,
        }
    }
}

impl std::fmt::Display for CipherCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

type AesCtr = ctr::Ctr128BE<Aes128>;

/// One keystream. `apply` XORs the next `buf.len()` keystream bytes into `buf`, so the same
/// call both encrypts and decrypts.
pub enum Engine {
    Identity,
    DesOfb(Box<DesOfb>),
    Rc4(Box<Rc4<cipher::consts::U16>>),
    Aes128Ctr(Box<Buffered<AesCtr>>),
    ChaCha20(Box<Buffered<ChaCha20>>),
}

impl Engine {
    /// The engine for `code` keyed from 20 bytes of key material (key2 or key3, protocol.md §4.2, §4.3).
    pub fn new(code: CipherCode, key: &[u8; KEY_LEN]) -> Engine {
        match code {
            CipherCode::Identity => Engine::Identity,
            CipherCode::DesOfb => {
                let mut k = [0u8; 8];
                k.copy_from_slice(&key[..8]);
                Engine::des_ofb(&k)
            }
            CipherCode::Rc4 => Engine::Rc4(Box::new(Rc4::new(key[..16].into()))),
            CipherCode::Aes128Ctr => {
                Engine::Aes128Ctr(Box::new(Buffered::new(AesCtr::new(key[..16].into(), &[0u8; 16].into()))))
            }
            CipherCode::ChaCha20 => {
                let mut k = [0u8; 32];
                k[..KEY_LEN].copy_from_slice(key);
                k[KEY_LEN..].copy_from_slice(&Sha1::digest(key)[..12]);
                let e = ChaCha20::new(&k.into(), &[0u8; 12].into());
                zeroize::Zeroize::zeroize(&mut k);
                Engine::ChaCha20(Box::new(Buffered::new(e)))
            }
        }
    }

    /// DES in OFB mode with IV 0 (link keys and onion key1). Parity bits are ignored.
    pub fn des_ofb(key: &[u8; 8]) -> Engine {
        Engine::DesOfb(Box::new(DesOfb::new(key, &[0u8; 8])))
    }

    pub fn code(&self) -> CipherCode {
        match self {
            Engine::Identity => CipherCode::Identity,
            Engine::DesOfb(_) => CipherCode::DesOfb,
            Engine::Rc4(_) => CipherCode::Rc4,
            Engine::Aes128Ctr(_) => CipherCode::Aes128Ctr,
            Engine::ChaCha20(_) => CipherCode::ChaCha20,
        }
    }

    /// Crypt `buf` in place with the next keystream bytes.
    pub fn apply(&mut self, buf: &mut [u8]) {
        match self {
            Engine::Identity => {}
            Engine::DesOfb(c) => c.apply(buf),
            Engine::Rc4(c) => c.apply_keystream(buf),
            Engine::Aes128Ctr(c) => c.apply_keystream(buf),
            Engine::ChaCha20(c) => c.apply_keystream(buf),
        }
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Engine({})", self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    /// FIPS 81, Table E1 (OFB mode): key 0123456789abcdef, IV 1234567890abcdef,
    /// "Now is the time for all " in ASCII. The engine uses IV 0, so the published IV is
    /// reached through the engine's own DES-OFB type (crypto/fast_des.rs).
    #[test]
    fn des_ofb_fips81_example() {
        let key = h("0123456789abcdef");
        let iv = h("1234567890abcdef");
        let mut c = DesOfb::new(&key.try_into().unwrap(), &iv.try_into().unwrap());
        let mut buf = h("4e6f772069732074 68652074696d6520 666f7220616c6c20");
        c.apply(&mut buf);
        assert_eq!(buf, h("f3096249c7f46e51 35f24a242eeb3d3f 3d6d5be3255af8c3"));
    }

    /// NIST SP 800-17 / FIPS 81 known-answer for DES with IV 0 in OFB: the first keystream
    /// block is DES_K(0), here checked against the DES ECB variable-plaintext table entry
    /// (key 0101010101010101 encrypts 0000000000000000 to 8ca64de9c1b123a7).
    #[test]
    fn des_ofb_iv_zero_first_block_is_des_of_zero() {
        let mut e = Engine::des_ofb(&h("0101010101010101").try_into().unwrap());
        let mut buf = [0u8; 8];
        e.apply(&mut buf);
        assert_eq!(buf.to_vec(), h("8ca64de9c1b123a7"));
    }

    /// RFC 6229, key 0102030405060708090a0b0c0d0e0f10 (128 bits), offsets 0 and 16.
    #[test]
    fn rc4_rfc6229() {
        let mut key = [0u8; KEY_LEN];
        key[..16].copy_from_slice(&h("0102030405060708090a0b0c0d0e0f10"));
        let mut e = Engine::new(CipherCode::Rc4, &key);
        let mut buf = [0u8; 32];
        e.apply(&mut buf);
        assert_eq!(buf.to_vec(), h("9ac7cc9a609d1ef7b2932899cde41b97 5248c4959014126a6e8a84f11d1a9e1c"));
    }

    #[test]
    fn keystream_is_continuous_across_calls() {
        for code in CipherCode::ALL {
            let key = [7u8; KEY_LEN];
            let mut whole = [0u8; 100];
            Engine::new(code, &key).apply(&mut whole);
            let mut parts = [0u8; 100];
            let mut e = Engine::new(code, &key);
            for chunk in parts.chunks_mut(3) {
                e.apply(chunk);
            }
            assert_eq!(whole, parts, "{code}");
        }
    }

    #[test]
    fn names_round_trip() {
        for code in CipherCode::ALL {
            assert_eq!(CipherCode::from_name(code.name()), Some(code));
            assert_eq!(CipherCode::from_code(code.code()), Some(code));
        }
        assert_eq!(CipherCode::from_code(5), None);
    }
}
