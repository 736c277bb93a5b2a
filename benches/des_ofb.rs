//! DES-OFB keystream throughput: ork's engine (`Engine::des_ofb`, what links, onion key1 and
//! function code 1 use) beside the RustCrypto `ofb::Ofb<des::Des>` over the same bytes in the
//! same run (the `bound_crate` sibling), in one 64 KiB call, in 48-byte calls (a whole cell,
//! as PADDING/DESTROY and function code 1 use it) and in 3-byte calls (a DATA cell's link
//! header). docs/performance.md reads the figures as ratios (`scripts/bench-ratios.py`).

use std::hint::black_box;
use std::time::Duration;

use cipher::{KeyIvInit, StreamCipher};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ork::crypto::Engine;

const KEY: [u8; 8] = *b"0123fast";
const BULK: usize = 65_536;
const CELL: usize = 48;

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

fn crate_ofb() -> ofb::Ofb<des::Des> {
    ofb::Ofb::new(KEY[..].into(), &[0u8; 8].into())
}

/// One group: the engine and the crate over `buf`, `per_call` bytes at a time from the front
/// of each `stride` bytes (`per_call == stride == buf.len()` is one bulk call).
fn group(c: &mut Criterion, name: &str, per_call: usize, stride: usize) {
    let mut buf = vec![0u8; BULK];
    let mut g = c.benchmark_group(format!("des_ofb/{name}"));
    g.throughput(Throughput::Bytes((BULK / stride * per_call) as u64));
    let mut engine = Engine::des_ofb(&KEY);
    g.bench_function("engine", |b| {
        b.iter(|| {
            for chunk in buf.chunks_exact_mut(stride) {
                engine.apply(&mut chunk[..per_call]);
            }
            black_box(&buf);
        })
    });
    let mut raw = crate_ofb();
    g.bench_function("bound_crate", |b| {
        b.iter(|| {
            for chunk in buf.chunks_exact_mut(stride) {
                raw.apply_keystream(&mut chunk[..per_call]);
            }
            black_box(&buf);
        })
    });
    g.finish();
}

fn des_ofb(c: &mut Criterion) {
    group(c, "bulk_64KiB", BULK, BULK);
    group(c, "calls_48B", CELL, CELL);
    group(c, "calls_3B_per_cell", 3, CELL);
}

criterion_group! { name = benches; config = config(); targets = des_ofb }
criterion_main!(benches);
