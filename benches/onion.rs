//! Onions: build for five hops beside five raw RSA public operations, and peel beside one raw
//! RSA private operation on a 128-byte block (CRT and blinding, as the router does it) — the
//! bound a router's onion rate cannot pass. Each group holds its bound as a sibling benchmark
//! whose name starts with `bound`; docs/performance.md reads them as ratios.

use std::hint::black_box;
use std::net::SocketAddrV4;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use ork::crypto::rsa_block::{decrypt_block, encrypt_block, generate, RSA_BLOCK_LEN};
use ork::crypto::{CipherCode, RsaPrivateKey};
use ork::onion::{build, peel, OnionPlan, RouteHop, MAX_HOPS};
use rand::rngs::StdRng;
use rand::SeedableRng;

const EXPIRATION: u32 = 2_000_000_000;

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
}

fn keys() -> Vec<RsaPrivateKey> {
    let mut rng = StdRng::seed_from_u64(42);
    (0..MAX_HOPS).map(|_| generate(&mut rng).expect("keygen")).collect()
}

fn route(keys: &[RsaPrivateKey]) -> Vec<RouteHop> {
    keys.iter()
        .enumerate()
        .map(|(i, k)| RouteHop {
            addr: SocketAddrV4::new([127, 0, 0, 1].into(), 9001 + i as u16),
            key: k.to_public_key(),
        })
        .collect()
}

fn onion(c: &mut Criterion) {
    let keys = keys();
    let route = route(&keys);
    let mut rng = StdRng::seed_from_u64(1);
    let plan = OnionPlan::random(MAX_HOPS, CipherCode::Aes128Ctr, CipherCode::Aes128Ctr, EXPIRATION, &mut rng);
    let built = build(&route, &plan).expect("onion");
    let mut block = [0x5au8; RSA_BLOCK_LEN];
    block[0] = 0x01;

    let mut g = c.benchmark_group("onion_build");
    g.bench_function("build_5_hops", |b| b.iter(|| build(&route, black_box(&plan)).expect("onion")));
    g.bench_function("bound_5_rsa_public", |b| {
        b.iter(|| {
            for hop in &route {
                black_box(encrypt_block(&hop.key, black_box(&block)).expect("rsa"));
            }
        })
    });
    g.finish();

    let cipher = encrypt_block(&route[0].key, &block).expect("rsa");
    let mut g = c.benchmark_group("onion_peel");
    let now = u64::from(EXPIRATION) - 60;
    g.bench_function("peel", |b| b.iter(|| peel(&keys[0], black_box(&built), now, 3600, &mut rng).expect("peel")));
    g.bench_function("bound_rsa_private_crt_blinded", |b| {
        b.iter(|| decrypt_block(&keys[0], black_box(&cipher), &mut rng).expect("rsa"))
    });
    g.bench_function("rsa_private_crt_blinded_unchecked", |b| {
        let c = rsa::BigUint::from_bytes_be(&cipher);
        b.iter(|| rsa::hazmat::rsa_decrypt(Some(&mut rng), &keys[0], black_box(&c)).expect("rsa"))
    });
    g.finish();
}

criterion_group! { name = benches; config = config(); targets = onion }
criterion_main!(benches);
