//! A dudect-style timing test of the onion's RSA private operation (issue 22): two classes of
//! inputs — class A the all-zero ciphertext (the extreme of the inputs with many leading zero
//! bytes that a "Marvin" attacker chooses; any client may put it in an onion), class B random
//! ciphertexts — measured in random interleaved order, then Welch's t-statistic of the two
//! classes' times. |t| above 4.5 means the time depends on the ciphertext. Run for the `rsa`
//! crate's blinded operation that ork used before (blinding does not hide it: zero blinded is
//! still zero, and the crate's big-number arithmetic is faster on it) and for ork's
//! constant-time one (after):
//!
//!     cargo bench --bench rsa_timing            # ORK_TIMING_SAMPLES=N to change the count

use std::hint::black_box;
use std::time::Instant;

use ork::crypto::rsa_block::{decrypt_block, decrypt_block_reference, encrypt_block, generate, RSA_BLOCK_LEN};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

type Op = fn(
    &ork::crypto::RsaPrivateKey,
    &[u8; RSA_BLOCK_LEN],
    &mut ChaCha20Rng,
) -> Result<[u8; RSA_BLOCK_LEN], ork::crypto::KeyError>;

/// Welch's t of two samples.
fn welch_t(a: &[f64], b: &[f64]) -> f64 {
    let stats = |x: &[f64]| {
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (n, mean, var)
    };
    let (na, ma, va) = stats(a);
    let (nb, mb, vb) = stats(b);
    (ma - mb) / (va / na + vb / nb).sqrt()
}

/// Drop the slowest tenth of a class (interrupts, other processes), as dudect crops outliers.
fn crop(mut x: Vec<f64>) -> Vec<f64> {
    x.sort_by(|a, b| a.total_cmp(b));
    x.truncate(x.len() * 9 / 10);
    x
}

fn main() {
    let samples: usize = std::env::var("ORK_TIMING_SAMPLES").ok().and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let mut rng = ChaCha20Rng::seed_from_u64(0x22);
    let key = generate(&mut rng).expect("key");
    let public = key.to_public_key();
    let pool = |rng: &mut ChaCha20Rng| -> Vec<[u8; RSA_BLOCK_LEN]> {
        (0..256)
            .map(|_| {
                let mut m = [0u8; RSA_BLOCK_LEN];
                rng.fill(&mut m[1..]);
                encrypt_block(&public, &m).expect("encrypt")
            })
            .collect()
    };
    let class_a = [[0u8; RSA_BLOCK_LEN]];
    let class_b = pool(&mut rng);
    for (name, op) in [
        ("rsa crate, blinded (before)", decrypt_block_reference as Op),
        ("ork constant-time (after)", decrypt_block as Op),
    ] {
        let (mut ta, mut tb) = (Vec::with_capacity(samples), Vec::with_capacity(samples));
        for _ in 0..samples / 10 {
            let _ = op(&key, &class_a[0], &mut rng); // warm-up
        }
        for i in 0..samples {
            let a = rng.gen::<bool>();
            let c = if a { &class_a[0] } else { &class_b[i % class_b.len()] };
            let t0 = Instant::now();
            let r = op(&key, black_box(c), &mut rng);
            let dt = t0.elapsed().as_nanos() as f64;
            black_box(r.expect("decrypt"));
            if a {
                ta.push(dt)
            } else {
                tb.push(dt)
            }
        }
        let (ta, tb) = (crop(ta), crop(tb));
        let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64 / 1000.0;
        println!(
            "{name}: {samples} samples, class A (zero ciphertext) {:.1} µs, class B (random) {:.1} µs, Welch t = {:.2}{}",
            mean(&ta),
            mean(&tb),
            welch_t(&ta, &tb),
            if welch_t(&ta, &tb).abs() > 4.5 { "  (LEAKS: |t| > 4.5)" } else { "  (no leak detected: |t| <= 4.5)" }
        );
    }
}
