//! DES encryption (FIPS 46-3) in the table-driven form, and DES-OFB (FIPS 81) built on it: the
//! keystream of links, onion key1 and function code 1 (protocol.md §1.3, §4.2, §4.3).
//!
//! Why by hand: the link cipher is DES-OFB by protocol, and it was about a third of the CPU of a
//! 5-hop download. The pure-Rust crate (RustCrypto `des`) computes each round's expansion, S-box
//! and P permutations bit by bit and is 3× slower than this file; OpenSSL's DES (through the
//! `openssl` crate: a C library and its legacy provider) measured no faster than this file here
//! (docs/performance.md). So this file has the usual table-driven form, for encryption only
//! (OFB never decrypts); `des`/`ofb` stay as test oracles and bench reference.
//!
//! The form (all of it derived here from the standard's tables, nothing copied):
//! - **SP tables.** FIPS 46-3 defines the round function as f(R, K) = P(S(E(R) ⊕ K)). Each of the
//!   eight S-boxes maps 6 bits to 4, and P only moves bits, so "S-box i, then P" is a table of
//!   64 words per S-box with each output already in its final bit positions; f is the OR of eight
//!   look-ups. The tables are built at compile time from the standard's S-boxes and P.
//! - **E without E.** E(R) is eight overlapping 6-bit windows of R. Rotating R left by 1 puts
//!   windows 2, 4, 6, 8 (the standard counts from 1) in the low six bits of each byte; rotating
//!   it right by 3 does the same for windows 1, 3, 5, 7. Each round key is stored once per key in
//!   the same two-word layout, and the rounds keep both halves rotated left by 1 (the SP tables
//!   give f rotated the same way), so E ⊕ K is two XORs (the odd windows' key word is stored
//!   rotated back by the 4 bits, so the rotation lands on one look-up's index, not on the chain).
//!   The tables are indexed by whole bytes (each 64-entry table repeated four times, 8 KiB in
//!   all), so no index needs a mask: about a fifth fewer instructions a round.
//! - **IP and its inverse** are five "delta swaps" (exchange the bits of one word selected by a
//!   mask with the bits of the other shifted by a distance); the inverse runs them backwards.
//!   The tests check both against the standard's bit tables.
//! - **OFB stays in the IP domain.** The output block feeds the next encryption, and IP undoes
//!   the final permutation, so the register is kept as the 16 rounds' output and only the
//!   keystream bytes pass through the final permutation.
//!
//! Key parity bits are ignored, as FIPS 46-3 allows (PC-1 never selects them). Like the crate's,
//! the S-box look-ups are indexed by secret bits; see docs/performance.md for that trade-off.

use zeroize::Zeroize;

/// The eight S-boxes of FIPS 46-3, each four rows of sixteen.
#[rustfmt::skip]
const SBOX: [[u8; 64]; 8] = [
    [14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7,  0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8,
     4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0,  15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13],
    [15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10,  3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5,
     0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15,  13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9],
    [10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8,  13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1,
     13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7,  1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12],
    [7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15,  13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9,
     10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4,  3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14],
    [2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9,  14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6,
     4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14,  11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3],
    [12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11,  10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8,
     9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6,  4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13],
    [4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1,  13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6,
     1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2,  6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12],
    [13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7,  1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2,
     7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8,  2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11],
];

/// The permutation P (1-based source bit, most significant first).
#[rustfmt::skip]
const P: [u8; 32] = [16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10,
                     2, 8, 24, 14, 32, 27, 3, 9, 19, 13, 30, 6, 22, 11, 4, 25];

/// Permuted choice 1: the 56 key bits (parity bits 8, 16, … left out), C then D.
#[rustfmt::skip]
const PC1: [u8; 56] = [57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18, 10, 2, 59, 51, 43, 35, 27, 19, 11, 3,
                       60, 52, 44, 36, 63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22, 14, 6, 61, 53, 45, 37,
                       29, 21, 13, 5, 28, 20, 12, 4];

/// Permuted choice 2: 48 of the 56 bits of C ‖ D form a round key.
#[rustfmt::skip]
const PC2: [u8; 48] = [14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2,
                       41, 52, 31, 37, 47, 55, 30, 40, 51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32];

/// Left rotations of C and D before each round.
const SHIFTS: [u32; 16] = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];

/// Bit `table[j]` (1-based from the most significant of `width` bits) of `x` becomes output bit j.
const fn permute(x: u64, width: u32, table: &[u8]) -> u64 {
    let mut out = 0;
    let mut j = 0;
    while j < table.len() {
        out = (out << 1) | ((x >> (width - table[j] as u32)) & 1);
        j += 1;
    }
    out
}

/// SP[i][v]: S-box i (0-based) on the 6-bit input v, its 4 output bits put where S-box i's
/// output sits in the 32-bit word, then P applied, then rotated left by 1 (the rounds keep both
/// halves rotated left by 1, see [`f`]).
const SP: [[u32; 64]; 8] = sp_tables();

/// [`SP`] indexed by a whole byte whose top two bits are ignored (each table repeated four
/// times): the rounds take each window as a byte of E ⊕ K, with no mask on the look-up's path.
/// 8 KiB, inside the L1 cache with room to spare.
static SP_BYTE: [[u32; 256]; 8] = sp_byte_tables();

const fn sp_byte_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 8 {
        let mut v = 0;
        while v < 256 {
            t[i][v] = SP[i][v & 0x3f];
            v += 1;
        }
        i += 1;
    }
    t
}

const fn sp_tables() -> [[u32; 64]; 8] {
    let mut t = [[0u32; 64]; 8];
    let mut i = 0;
    while i < 8 {
        let mut v = 0;
        while v < 64 {
            // Row from the outer bits b1 b6, column from the inner four (FIPS 46-3).
            let row = ((v >> 4) & 2) | (v & 1);
            let col = (v >> 1) & 15;
            let s = SBOX[i][row * 16 + col] as u64;
            t[i][v] = (permute(s << (28 - 4 * i), 32, &P) as u32).rotate_left(1);
            v += 1;
        }
        i += 1;
    }
    t
}

/// Exchange the bits of `a >> shift` selected by `mask` with the same bits of `b`.
#[inline(always)]
fn delta_swap(a: &mut u32, b: &mut u32, shift: u32, mask: u32) {
    let t = ((*a >> shift) ^ *b) & mask;
    *b ^= t;
    *a ^= t << shift;
}

/// The initial permutation IP of the 64-bit block `hi ‖ lo`, as (L0, R0).
#[inline(always)]
fn initial_permutation(mut l: u32, mut r: u32) -> (u32, u32) {
    delta_swap(&mut l, &mut r, 4, 0x0f0f_0f0f);
    delta_swap(&mut l, &mut r, 16, 0x0000_ffff);
    delta_swap(&mut r, &mut l, 2, 0x3333_3333);
    delta_swap(&mut r, &mut l, 8, 0x00ff_00ff);
    delta_swap(&mut l, &mut r, 1, 0x5555_5555);
    (l, r)
}

/// IP⁻¹, the same swaps in reverse order.
#[inline(always)]
fn final_permutation(mut l: u32, mut r: u32) -> (u32, u32) {
    delta_swap(&mut l, &mut r, 1, 0x5555_5555);
    delta_swap(&mut r, &mut l, 8, 0x00ff_00ff);
    delta_swap(&mut r, &mut l, 2, 0x3333_3333);
    delta_swap(&mut l, &mut r, 16, 0x0000_ffff);
    delta_swap(&mut l, &mut r, 4, 0x0f0f_0f0f);
    (l, r)
}

fn to_bytes(hi: u32, lo: u32) -> [u8; 8] {
    ((u64::from(hi) << 32) | u64::from(lo)).to_be_bytes()
}

fn halves(block: &[u8; 8]) -> (u32, u32) {
    let x = u64::from_be_bytes(*block);
    ((x >> 32) as u32, x as u32)
}

/// A DES key's 16 round keys, each as two words laid out like the rotated halves in [`f`].
pub struct DesKey {
    rounds: [[u32; 2]; 16],
}

impl DesKey {
    /// The key schedule of FIPS 46-3 for an 8-byte key (parity bits ignored).
    pub fn new(key: &[u8; 8]) -> DesKey {
        let cd = permute(u64::from_be_bytes(*key), 64, &PC1);
        let (mut c, mut d) = ((cd >> 28) as u32, (cd & 0x0fff_ffff) as u32);
        let rotate28 = |x: u32, n: u32| ((x << n) | (x >> (28 - n))) & 0x0fff_ffff;
        let mut rounds = [[0u32; 2]; 16];
        for (round, shift) in rounds.iter_mut().zip(SHIFTS) {
            c = rotate28(c, shift);
            d = rotate28(d, shift);
            let k = permute((u64::from(c) << 28) | u64::from(d), 56, &PC2);
            let group = |i: u32| ((k >> (42 - 6 * i)) & 0x3f) as u32;
            // The odd windows' word is stored rotated left by 4, as [`f`] XORs it into R.
            *round = [
                (group(0) << 24 | group(2) << 16 | group(4) << 8 | group(6)).rotate_left(4),
                group(1) << 24 | group(3) << 16 | group(5) << 8 | group(7),
            ];
        }
        DesKey { rounds }
    }

    /// The 16 rounds on (L0, R0) after IP, both rotated left by 1; returns R16 ‖ L16 (the block
    /// before IP⁻¹), still rotated.
    #[inline]
    fn rounds(&self, mut l: u32, mut r: u32) -> (u32, u32) {
        for pair in self.rounds.chunks_exact(2) {
            l ^= f(r, pair[0]);
            r ^= f(l, pair[1]);
        }
        (r, l)
    }

    /// DES encryption of one 8-byte block.
    pub fn encrypt_block(&self, block: &[u8; 8]) -> [u8; 8] {
        let (l, r) = halves(block);
        let (l, r) = initial_permutation(l, r);
        let (l, r) = self.rounds(l.rotate_left(1), r.rotate_left(1));
        let (l, r) = final_permutation(l.rotate_right(1), r.rotate_right(1));
        to_bytes(l, r)
    }
}

impl Drop for DesKey {
    fn drop(&mut self) {
        self.rounds.zeroize();
    }
}

/// The round function f(R, K) = P(S(E(R) ⊕ K)) with the S-box/P look-ups of [`SP_BYTE`], on R
/// rotated left by 1 and giving f rotated left by 1: that rotation is the one E needs for the
/// even windows, so the halves stay rotated through all 16 rounds and it costs nothing. The
/// eight look-ups are combined as a tree, not a chain: the rounds are one long dependency chain
/// (OFB cannot run blocks in parallel), so its latency is the cost.
#[inline(always)]
fn f(r_rotated: u32, k: [u32; 2]) -> u32 {
    // E windows 1, 3, 5, 7 are the bytes of R rotated right by 4; with that word's key stored
    // rotated left by 4, `a` is (E ⊕ K) rotated left by 4 and the windows start at bits 28
    // (wrapping), 20, 12, 4: one rotation off the dependency chain instead of one on it.
    let a = r_rotated ^ k[0];
    let b = r_rotated ^ k[1]; // E windows 2, 4, 6, 8 in bytes 3..0
                              // Each window is the low six bits of a byte; the byte indexes [`SP_BYTE`] as it is.
    let at = |w: u32, shift: u32| usize::from((w >> shift) as u8);
    // The eight words have disjoint bits (P spreads distinct S-box outputs), so |, ^ and + all
    // combine them alike. Mixing the three operators keeps the compiler from re-associating the
    // tree into one chain of eight ORs (its choice with | alone): three levels instead of eight.
    let t = &SP_BYTE;
    let w13 = t[0][usize::from(a.rotate_left(4) as u8)] | t[2][at(a, 20)];
    let w57 = t[4][at(a, 12)] | t[6][at(a, 4)];
    let w24 = t[1][at(b, 24)] | t[3][at(b, 16)];
    let w68 = t[5][at(b, 8)] | t[7][at(b, 0)];
    (w13 ^ w57).wrapping_add(w24 ^ w68)
}

/// Keystream blocks [`DesOfb`] computes per refill: a link crypts 3 bytes of each DATA cell, so
/// one refill serves about 21 cells, and a 3-byte call is an XOR from the buffer, not a call
/// into the rounds with its own bookkeeping for a partly used block.
const OFB_BLOCKS: usize = 8;
const OFB_BUF: usize = 8 * OFB_BLOCKS;

/// DES in output-feedback mode with 64-bit feedback (FIPS 81): one continuous keystream, XORed
/// in by [`DesOfb::apply`] in calls of any size, computed [`OFB_BLOCKS`] blocks ahead.
pub struct DesOfb {
    key: DesKey,
    /// The feedback register after IP: the last rounds' output (R16 ‖ L16), both halves
    /// rotated left by 1 as [`f`] wants them.
    reg: (u32, u32),
    /// Keystream computed ahead and how many of its bytes are used.
    ks: [u8; OFB_BUF],
    used: usize,
}

impl DesOfb {
    pub fn new(key: &[u8; 8], iv: &[u8; 8]) -> DesOfb {
        let (l, r) = halves(iv);
        let (l, r) = initial_permutation(l, r);
        DesOfb { key: DesKey::new(key), reg: (l.rotate_left(1), r.rotate_left(1)), ks: [0; OFB_BUF], used: OFB_BUF }
    }

    /// The next 8 keystream bytes: encrypt the register (which is already in the IP domain).
    #[inline]
    fn next_block(&mut self) -> [u8; 8] {
        self.reg = self.key.rounds(self.reg.0, self.reg.1);
        let (l, r) = final_permutation(self.reg.0.rotate_right(1), self.reg.1.rotate_right(1));
        to_bytes(l, r)
    }

    /// Compute the next [`OFB_BUF`] keystream bytes into the buffer.
    fn refill(&mut self) {
        for i in 0..OFB_BLOCKS {
            let block = self.next_block();
            self.ks[8 * i..8 * i + 8].copy_from_slice(&block);
        }
        self.used = 0;
    }

    /// XOR the next `buf.len()` keystream bytes into `buf` (encrypts and decrypts alike).
    #[inline]
    pub fn apply(&mut self, buf: &mut [u8]) {
        // The common case, a link's few header bytes, stays inline.
        if buf.len() <= OFB_BUF - self.used {
            let ks = &self.ks[self.used..self.used + buf.len()];
            buf.iter_mut().zip(ks).for_each(|(b, k)| *b ^= k);
            self.used += buf.len();
        } else {
            self.apply_long(buf);
        }
    }

    fn apply_long(&mut self, mut buf: &mut [u8]) {
        while !buf.is_empty() {
            if self.used == OFB_BUF {
                self.refill();
            }
            let n = buf.len().min(OFB_BUF - self.used);
            let (now, rest) = buf.split_at_mut(n);
            xor(now, &self.ks[self.used..self.used + n]);
            self.used += n;
            buf = rest;
        }
    }
}

impl Drop for DesOfb {
    fn drop(&mut self) {
        self.ks.zeroize();
        self.reg.0.zeroize();
        self.reg.1.zeroize();
    }
}

fn xor(buf: &mut [u8], keystream: &[u8]) {
    super::keystream::xor(buf, keystream);
}

#[cfg(test)]
#[path = "fast_des_tests.rs"]
mod tests;
