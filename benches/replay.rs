//! The replay cache at 10⁶ entries: `check_and_insert` in steady state (each insert expires the
//! oldest entry, so the cache stays at 10⁶) and `contains`, beside the std `HashMap` operations
//! it is built on (siblings named `bound…`).

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use ork::router::ReplayCache;

const ENTRIES: u64 = 1_000_000;
const T0: u64 = 1_700_000_000;

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
}

/// A distinct, well-spread 16-byte key seed for each `n`.
fn seed(n: u64) -> [u8; 16] {
    let x = u128::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
    (x ^ (x >> 64)).to_le_bytes()
}

fn replay(c: &mut Criterion) {
    let mut g = c.benchmark_group("replay_1e6");
    // Entry n expires at T0 + n: at time T0 + k + 1 entry k has expired.
    let mut cache = ReplayCache::new(2 * ENTRIES as usize);
    for n in 0..ENTRIES {
        cache.check_and_insert(&seed(n), (T0 + n) as u32, T0).expect("insert");
    }
    let mut k = 0u64;
    g.bench_function("check_and_insert_steady", |b| {
        b.iter(|| {
            let n = ENTRIES + k;
            cache.check_and_insert(&seed(n), (T0 + n) as u32, T0 + k + 1).expect("fresh seed");
            k += 1;
        })
    });
    assert!(cache.len() as u64 <= ENTRIES + 1, "steady state kept: {}", cache.len());
    let live = k;
    let mut i = 0u64;
    g.bench_function("contains_hit", |b| {
        b.iter(|| {
            i = (i + 7919) % ENTRIES;
            assert!(cache.contains(black_box(&seed(live + i))));
        })
    });
    g.bench_function("contains_miss", |b| {
        b.iter(|| {
            i += 1;
            assert!(!cache.contains(black_box(&seed(u64::MAX - i))));
        })
    });

    let mut map: HashMap<[u8; 16], u32> = (0..ENTRIES).map(|n| (seed(n), n as u32)).collect();
    let mut k = 0u64;
    g.bench_function("bound_hashmap_insert_remove", |b| {
        b.iter(|| {
            map.insert(seed(ENTRIES + k), k as u32);
            map.remove(&seed(k));
            k += 1;
        })
    });
    g.bench_function("bound_hashmap_get_hit", |b| {
        b.iter(|| {
            i = (i + 7919) % ENTRIES;
            black_box(map.get(black_box(&seed(k + i))));
        })
    });
    g.finish();
}

/// The file-backed cache as a router with `--state-dir` runs it: one record appended per onion,
/// with the default fsync per record and with `--no-replay-fsync` (docs/security.md, "Replay
/// cache fsync"); the RSA peel each onion costs anyway is `benches/onion.rs`.
fn replay_file(c: &mut Criterion) {
    let mut g = c.benchmark_group("replay_file");
    for fsync in [true, false] {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut cache = ork::net::replay_file::open_cache(dir.path(), 10_000_000, T0, fsync).expect("open");
        let mut k = 0u64;
        let name = if fsync { "insert_fsync_per_record" } else { "insert_no_fsync" };
        g.bench_function(name, |b| {
            b.iter(|| {
                cache.check_and_insert(&seed(k), (T0 + 3600) as u32, T0).expect("fresh seed");
                k += 1;
            })
        });
    }
    g.finish();
}

criterion_group! { name = benches; config = config(); targets = replay, replay_file }
criterion_main!(benches);
