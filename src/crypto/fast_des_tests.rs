//! Tests of the table-driven DES: the bit tricks against the standard's bit tables, and the
//! block function and OFB keystream against the RustCrypto `des`/`ofb` crates (the oracle) on
//! random keys, blocks, IVs and call sizes. The NIST known-answer tables are in
//! tests/des_known_answers.rs.

use super::*;
use cipher::{BlockEncrypt, KeyInit, KeyIvInit, StreamCipher};
use proptest::prelude::*;

/// IP as FIPS 46-3 tabulates it (1-based source bit, most significant first).
#[rustfmt::skip]
const IP: [u8; 64] = [58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4,
                      62, 54, 46, 38, 30, 22, 14, 6, 64, 56, 48, 40, 32, 24, 16, 8,
                      57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3,
                      61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7];

/// IP⁻¹ as FIPS 46-3 tabulates it.
#[rustfmt::skip]
const FP: [u8; 64] = [40, 8, 48, 16, 56, 24, 64, 32, 39, 7, 47, 15, 55, 23, 63, 31,
                      38, 6, 46, 14, 54, 22, 62, 30, 37, 5, 45, 13, 53, 21, 61, 29,
                      36, 4, 44, 12, 52, 20, 60, 28, 35, 3, 43, 11, 51, 19, 59, 27,
                      34, 2, 42, 10, 50, 18, 58, 26, 33, 1, 41, 9, 49, 17, 57, 25];

/// E as FIPS 46-3 tabulates it.
#[rustfmt::skip]
const E: [u8; 48] = [32, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9, 8, 9, 10, 11, 12, 13, 12, 13, 14, 15, 16, 17,
                     16, 17, 18, 19, 20, 21, 20, 21, 22, 23, 24, 25, 24, 25, 26, 27, 28, 29, 28, 29, 30, 31, 32, 1];

fn join(hi: u32, lo: u32) -> u64 {
    (u64::from(hi) << 32) | u64::from(lo)
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

/// The round function straight from the standard: E, XOR with the 48-bit key, S-boxes, P.
fn f_by_the_book(r: u32, k48: u64) -> u32 {
    let x = permute(u64::from(r), 32, &E) ^ k48;
    let mut s = 0u64;
    for (i, sbox) in SBOX.iter().enumerate() {
        let v = ((x >> (42 - 6 * i)) & 0x3f) as usize;
        s = (s << 4) | u64::from(sbox[(((v >> 4) & 2) | (v & 1)) * 16 + ((v >> 1) & 15)]);
    }
    permute(s, 32, &P) as u32
}

/// A round key in the two-word layout (the first word rotated left by 4) back to the standard's
/// 48 bits.
fn k48(k: [u32; 2]) -> u64 {
    let k = [k[0].rotate_right(4), k[1]];
    (0..8).fold(0u64, |acc, i| {
        let word = k[i % 2];
        let shift = 24 - 8 * (i / 2) as u32;
        (acc << 6) | u64::from((word >> shift) & 0x3f)
    })
}

proptest! {
    #[test]
    fn permutations_match_the_standard_tables(x: u64) {
        let (l, r) = initial_permutation((x >> 32) as u32, x as u32);
        prop_assert_eq!(join(l, r), permute(x, 64, &IP));
        let (l, r) = final_permutation((x >> 32) as u32, x as u32);
        prop_assert_eq!(join(l, r), permute(x, 64, &FP));
    }

    #[test]
    fn round_function_matches_the_standard(r: u32, key: [u8; 8]) {
        let sched = DesKey::new(&key);
        for round in sched.rounds {
            prop_assert_eq!(f(r.rotate_left(1), round).rotate_right(1), f_by_the_book(r, k48(round)));
        }
    }

    #[test]
    fn block_matches_the_des_crate(key: [u8; 8], block: [u8; 8]) {
        let mut want = block.into();
        des::Des::new(&key.into()).encrypt_block(&mut want);
        prop_assert_eq!(DesKey::new(&key).encrypt_block(&block), <[u8; 8]>::from(want));
    }

    /// The keystream over random data, cut into random call sizes (as links and connections
    /// apply it per cell, and some longer than the 64-byte buffer) equals the `ofb` crate's
    /// in one call.
    #[test]
    fn ofb_matches_the_ofb_crate(
        key: [u8; 8],
        iv: [u8; 8],
        data in proptest::collection::vec(any::<u8>(), 0..400),
        cuts in proptest::collection::vec(0usize..150, 0..40),
    ) {
        let mut want = data.clone();
        ofb::Ofb::<des::Des>::new(&key.into(), &iv.into()).apply_keystream(&mut want);
        let mut got = data;
        let mut ours = DesOfb::new(&key, &iv);
        let mut rest = got.as_mut_slice();
        for cut in cuts {
            let (now, later) = rest.split_at_mut(cut.min(rest.len()));
            ours.apply(now);
            rest = later;
        }
        ours.apply(rest);
        prop_assert_eq!(got, want);
    }
}

/// FIPS 81 Appendix, OFB example: key 0123456789abcdef, IV 1234567890abcdef,
/// "Now is the time for all " in ASCII.
#[test]
fn ofb_fips81_example() {
    let mut c = DesOfb::new(&h("0123456789abcdef").try_into().unwrap(), &h("1234567890abcdef").try_into().unwrap());
    let mut buf = b"Now is the time for all ".to_vec();
    c.apply(&mut buf);
    assert_eq!(buf, h("f3096249c7f46e51 35f24a242eeb3d3f 3d6d5be3255af8c3"));
}

/// The same plaintext in ECB (FIPS 81 Appendix, Table B1): its first block is one DES encryption.
#[test]
fn ecb_fips81_example_first_block() {
    let key = DesKey::new(&h("0123456789abcdef").try_into().unwrap());
    assert_eq!(key.encrypt_block(b"Now is t").to_vec(), h("3fa40e8a984d4815"));
}

/// Parity bits are not key bits: flipping the low bit of every key byte changes nothing.
#[test]
fn parity_bits_are_ignored() {
    let a = DesKey::new(&h("0123456789abcdef").try_into().unwrap());
    let b = DesKey::new(&h("0022446688aaccee").try_into().unwrap());
    assert_eq!(a.encrypt_block(&[0x42; 8]), b.encrypt_block(&[0x42; 8]));
}

/// `f` combines the eight S-box/P words with |, ^ and + alike: that is only right if no two
/// S-boxes' words share a bit.
#[test]
fn sp_words_of_different_s_boxes_share_no_bit() {
    let used: Vec<u32> = SP.iter().map(|table| table.iter().fold(0, |acc, w| acc | w)).collect();
    for i in 0..8 {
        assert_eq!(used[i].count_ones(), 4, "S-box {i} has four output bits");
        for j in i + 1..8 {
            assert_eq!(used[i] & used[j], 0, "S-boxes {i} and {j}");
        }
    }
}
