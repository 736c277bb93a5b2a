//! A stream cipher's keystream made several blocks at a time. The connection ciphers crypt one
//! 45-byte cell body per call; AES-128-CTR and ChaCha20 only use their multi-block (AES-NI,
//! SIMD) paths when a call covers several blocks, so each small call cost about three times the
//! crate's bulk rate per byte (docs/performance.md). [`Buffered`] asks the cipher for
//! [`KEYSTREAM_BUF`] bytes of keystream at once and XORs small calls from that buffer. The bytes
//! produced are exactly the cipher's keystream, in order: only when they are computed changes.

use cipher::StreamCipher;
use zeroize::Zeroize;

/// Keystream bytes computed per refill: 16 AES blocks, 4 ChaCha20 blocks.
pub const KEYSTREAM_BUF: usize = 256;

/// `C`'s keystream with up to [`KEYSTREAM_BUF`] bytes computed ahead (secret; wiped on drop).
pub struct Buffered<C: StreamCipher> {
    cipher: C,
    ks: [u8; KEYSTREAM_BUF],
    /// Bytes of `ks` already used.
    used: usize,
}

impl<C: StreamCipher> Buffered<C> {
    pub fn new(cipher: C) -> Self {
        Buffered { cipher, ks: [0; KEYSTREAM_BUF], used: KEYSTREAM_BUF }
    }

    /// XOR the next `buf.len()` keystream bytes into `buf`.
    #[inline]
    pub fn apply_keystream(&mut self, buf: &mut [u8]) {
        // The common case, a cell body within the buffered keystream, stays inline.
        if let Some(ks) = self.ks.get(self.used..self.used + buf.len()) {
            xor(buf, ks);
            self.used += buf.len();
        } else {
            self.apply_long(buf);
        }
    }

    fn apply_long(&mut self, mut buf: &mut [u8]) {
        while !buf.is_empty() {
            if self.used == KEYSTREAM_BUF {
                // Whole buffers' worth goes straight through the cipher: no copy.
                let direct = buf.len() - buf.len() % KEYSTREAM_BUF;
                if direct > 0 {
                    let (now, rest) = buf.split_at_mut(direct);
                    self.cipher.apply_keystream(now);
                    buf = rest;
                    continue;
                }
                self.ks = [0; KEYSTREAM_BUF];
                self.cipher.apply_keystream(&mut self.ks);
                self.used = 0;
            }
            let n = buf.len().min(KEYSTREAM_BUF - self.used);
            let (now, rest) = buf.split_at_mut(n);
            xor(now, &self.ks[self.used..self.used + n]);
            self.used += n;
            buf = rest;
        }
    }
}

/// `buf[i] ^= keystream[i]` for the shorter of the two, eight bytes at a time (a byte-wise loop
/// over a 45-byte body is not vectorised and cost as much as the AES itself).
#[inline]
pub fn xor(buf: &mut [u8], keystream: &[u8]) {
    let n = buf.len().min(keystream.len());
    let (buf, keystream) = (&mut buf[..n], &keystream[..n]);
    let mut b = buf.chunks_exact_mut(8);
    let mut k = keystream.chunks_exact(8);
    for (b8, k8) in (&mut b).zip(&mut k) {
        let x = u64::from_ne_bytes([b8[0], b8[1], b8[2], b8[3], b8[4], b8[5], b8[6], b8[7]])
            ^ u64::from_ne_bytes([k8[0], k8[1], k8[2], k8[3], k8[4], k8[5], k8[6], k8[7]]);
        b8.copy_from_slice(&x.to_ne_bytes());
    }
    b.into_remainder().iter_mut().zip(k.remainder()).for_each(|(b, k)| *b ^= k);
}

impl<C: StreamCipher> Drop for Buffered<C> {
    fn drop(&mut self) {
        self.ks.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::Aes128;
    use cipher::KeyIvInit;
    use proptest::prelude::*;

    type AesCtr = ctr::Ctr128BE<Aes128>;

    #[test]
    fn xor_covers_every_byte_of_the_shorter_slice() {
        for len in 0..40 {
            let mut buf: Vec<u8> = (0..len as u8).collect();
            let ks: Vec<u8> = (0..len as u8 + 3).map(|x| x.wrapping_mul(37) | 1).collect();
            let want: Vec<u8> = buf.iter().zip(&ks).map(|(b, k)| b ^ k).collect();
            xor(&mut buf, &ks);
            assert_eq!(buf, want, "len {len}");
        }
    }

    proptest! {
        /// Any sequence of call sizes gives the cipher's own keystream, byte for byte.
        #[test]
        fn same_bytes_as_the_cipher(
            key in any::<[u8; 16]>(),
            data in proptest::collection::vec(any::<u8>(), 0..3000),
            cuts in proptest::collection::vec(0usize..700, 0..12),
        ) {
            let mut want = data.clone();
            AesCtr::new(&key.into(), &[0u8; 16].into()).apply_keystream(&mut want);
            let mut got = data.clone();
            let mut b = Buffered::new(AesCtr::new(&key.into(), &[0u8; 16].into()));
            let mut at = 0;
            for c in cuts {
                let end = (at + c).min(got.len());
                b.apply_keystream(&mut got[at..end]);
                at = end;
            }
            b.apply_keystream(&mut got[at..]);
            prop_assert_eq!(got, want);
        }
    }
}
