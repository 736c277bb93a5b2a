//! Cell throughput: link crypt through `LinkCodec`, connection crypt through `Engine`, and DATA
//! cells through one sans-IO router core, each beside its bound measured in the same run (a
//! sibling benchmark whose name starts with `bound`). docs/performance.md says how to read the
//! figures as ratios; `python3 scripts/bench-ratios.py` prints them from target/criterion.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cipher::{KeyInit, KeyIvInit, StreamCipher};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ork::crypto::{CipherCode, Engine, KEY_LEN};
use ork::event::{Action, Core, Now, SockId};
use ork::link::LinkCodec;
use ork::onion::{build, OnionPlan, RouteHop};
use ork::router::Router;
use ork::sim::{End, ServerKind, SimNet};
use ork::wire::{Aci, Cell, Command, CELL_LEN, PAYLOAD_LEN};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

/// Cells in one 64 KiB read of the reactor (its READ_CHUNK): one wake-up's worth.
const BATCH: usize = 65_536 / CELL_LEN;
/// Bytes a connection's engine crypts per DATA cell: Length ‖ Payload.
const BODY_LEN: usize = PAYLOAD_LEN + 1;
const KEY: [u8; KEY_LEN] = *b"0123456789abcdefghij";

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

fn data_cells(n: usize, aci: Aci, rng: &mut StdRng) -> Vec<Cell> {
    (0..n).map(|_| Cell::with_data(aci, Command::Data, &[0x5a; PAYLOAD_LEN], rng).expect("cell")).collect()
}

/// The same keystream through the raw crate, with no `Engine` in between.
enum Raw {
    DesOfb(Box<ofb::Ofb<des::Des>>),
    Rc4(Box<rc4::Rc4<cipher::consts::U16>>),
    Aes(Box<ctr::Ctr128BE<aes::Aes128>>),
    ChaCha(Box<chacha20::ChaCha20>),
}

impl Raw {
    /// None for the identity, which has no crate.
    fn new(code: CipherCode) -> Option<Raw> {
        Some(match code {
            CipherCode::Identity => return None,
            CipherCode::DesOfb => Raw::DesOfb(Box::new(ofb::Ofb::new(KEY[..8].into(), &[0u8; 8].into()))),
            CipherCode::Rc4 => Raw::Rc4(Box::new(rc4::Rc4::new(KEY[..16].into()))),
            CipherCode::Aes128Ctr => Raw::Aes(Box::new(ctr::Ctr128BE::new(KEY[..16].into(), &[0u8; 16].into()))),
            CipherCode::ChaCha20 => {
                Raw::ChaCha(Box::new(chacha20::ChaCha20::new(&[7u8; 32].into(), &[0u8; 12].into())))
            }
        })
    }

    fn apply(&mut self, buf: &mut [u8]) {
        match self {
            Raw::DesOfb(c) => c.apply_keystream(buf),
            Raw::Rc4(c) => c.apply_keystream(buf),
            Raw::Aes(c) => c.apply_keystream(buf),
            Raw::ChaCha(c) => c.apply_keystream(buf),
        }
    }
}

/// The raw crate over `buf` in one call: the bound of its group. None for the identity, which
/// has no crate (and no cost to compare with).
fn bound_raw_crate_bulk(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    code: CipherCode,
    buf: &mut [u8],
) {
    let Some(mut raw) = Raw::new(code) else { return };
    g.bench_function("bound_raw_crate_bulk", |b| {
        b.iter(|| {
            raw.apply(buf);
            black_box(&buf);
        })
    });
}

fn codec_pair(code: CipherCode) -> (LinkCodec, LinkCodec) {
    let a = LinkCodec::new(Engine::new(code, &KEY), Engine::new(code, &[1; KEY_LEN]));
    let b = LinkCodec::new(Engine::new(code, &[1; KEY_LEN]), Engine::new(code, &KEY));
    (a, b)
}

/// Link crypt of a 64 KiB batch of DATA cells (3 bytes of keystream each) per cipher, beside
/// the same cipher run over the batch's bytes in bulk (through `Engine` and through the raw
/// crate) and in 3-byte calls (what the codec asks of the engine).
fn link_codec(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);
    let cells = data_cells(BATCH, Aci(1), &mut rng);
    for code in CipherCode::ALL {
        let mut g = c.benchmark_group(format!("link_codec/{code}"));
        g.throughput(Throughput::Bytes((BATCH * CELL_LEN) as u64));
        let (mut tx, _) = codec_pair(code);
        let mut wire = Vec::with_capacity(BATCH * CELL_LEN);
        g.bench_function("encode_all", |b| {
            b.iter(|| {
                wire.clear();
                tx.encode_all(&cells, &mut wire);
                black_box(&wire);
            })
        });
        let (mut tx, mut rx) = codec_pair(code); // in step again: the encoder ran ahead
        let mut out = Vec::with_capacity(BATCH);
        g.bench_function("decode", |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    wire.clear();
                    tx.encode_all(&cells, &mut wire);
                    out.clear();
                    let t = Instant::now();
                    rx.decode(&wire, &mut out).expect("in step");
                    spent += t.elapsed();
                    black_box(&out);
                }
                spent
            })
        });
        let mut engine = Engine::new(code, &KEY);
        let mut buf = vec![0u8; BATCH * CELL_LEN];
        g.bench_function("engine_3B_calls", |b| {
            b.iter(|| {
                for chunk in buf.chunks_exact_mut(CELL_LEN) {
                    engine.apply(&mut chunk[..3]);
                }
                black_box(&buf);
            })
        });
        g.bench_function("engine_bulk", |b| {
            b.iter(|| {
                engine.apply(&mut buf);
                black_box(&buf);
            })
        });
        bound_raw_crate_bulk(&mut g, code, &mut buf);
        g.finish();
    }
}

/// Connection crypt: one DATA body (45 bytes) per call, as a router does per cell, beside the
/// same bytes in one bulk call of the raw crate.
fn conn_crypt(c: &mut Criterion) {
    for code in CipherCode::ALL {
        let mut g = c.benchmark_group(format!("conn_crypt/{code}"));
        g.throughput(Throughput::Bytes((BATCH * BODY_LEN) as u64));
        let mut buf = vec![0u8; BATCH * BODY_LEN];
        let mut engine = Engine::new(code, &KEY);
        g.bench_function("engine_45B_calls", |b| {
            b.iter(|| {
                for body in buf.chunks_exact_mut(BODY_LEN) {
                    engine.apply(body);
                }
                black_box(&buf);
            })
        });
        g.bench_function("engine_bulk", |b| {
            b.iter(|| {
                engine.apply(&mut buf);
                black_box(&buf);
            })
        });
        bound_raw_crate_bulk(&mut g, code, &mut buf);
        g.finish();
    }
}

/// One router of a two-router in-memory network, with an anonymous client whose link codec
/// we hold, and a connection through it; after set-up the router is driven directly.
struct Rig {
    net: SimNet,
    router: usize,
    /// The router's socket for the client's link.
    client_sock: SockId,
    /// The router's socket to the destination, when it is the exit.
    stream_sock: Option<SockId>,
    client: common::RawClient,
    /// The connection's forward engines, entry first (the client precrypts with them).
    fwd: Vec<Engine>,
    now: Now,
}

/// Which socket of node `n` is connected to `peer`, from what it sent.
fn sock_toward(net: &SimNet, n: usize, peer: End) -> Option<SockId> {
    net.wire_log.iter().zip(&net.wire_peers).find_map(|((from, _), to)| match from {
        End::Node(m, s) if *m == n && *to == peer => Some(*s),
        _ => None,
    })
}

/// Route `route` (router indices, entry 0 first) with cipher `code`, open to a sink server.
fn rig(code: CipherCode, route: &[usize]) -> Rig {
    let (mut net, routers) = common::routers_only(2, common::full_mesh(2), Duration::ZERO);
    let dest: SocketAddr = "127.0.0.1:7000".parse().expect("addr");
    net.add_server(dest, ServerKind::Sink);
    net.log_wire = true;
    let mut client = common::RawClient::connect(&mut net, 0);
    let client_sock = sock_toward(&net, routers[0], End::Server(client.conn)).expect("router answered the client");

    let hops: Vec<RouteHop> = route
        .iter()
        .map(|&i| RouteHop { addr: common::router_addr(i), key: common::keys()[i].to_public_key() })
        .collect();
    let mut rng = StdRng::seed_from_u64(9);
    let plan = OnionPlan::random(hops.len(), code, code, net.now.unix as u32 + 600, &mut rng);
    let onion = build(&hops, &plan).expect("onion");
    client.send(&mut net, &common::create_cells(1, &onion));
    let mut fwd: Vec<Engine> = plan.key_sets().iter().map(|k| Engine::new(code, &k.key3)).collect();
    let mut send = |net: &mut SimNet, client: &mut common::RawClient, data: &[u8]| {
        let mut cell = Cell::with_data(Aci(1), Command::Data, data, &mut rng).expect("cell");
        fwd.iter_mut().rev().for_each(|e| e.apply(&mut cell.body));
        client.send(net, &[cell]);
    };
    send(&mut net, &mut client, &common::structure("127.0.0.1", 7000));
    send(&mut net, &mut client, b"x");
    net.run();
    let sink = net.server_conns.iter().position(|s| s.addr == Some(dest)).expect("exit connected");
    assert_eq!(net.server_conns[sink].received, b"x", "connection open end to end");
    let stream_sock = sock_toward(&net, routers[0], End::Server(sink));
    net.log_wire = false;
    net.wire_log.clear();
    net.wire_peers.clear();
    let now = net.now;
    Rig { net, router: routers[0], client_sock, stream_sock, client, fwd, now }
}

/// Hand `input` to the router on `sock` as one read, then one wake-up; bytes it sends.
fn drive(router: &mut Router, now: Now, sock: SockId, input: &[u8]) -> usize {
    router.received(now, sock, input);
    router.tick(now);
    let mut sent = 0;
    while let Some(a) = router.poll_action() {
        if let Action::Send { data, .. } = &a {
            sent += data.len();
        }
        black_box(a);
    }
    sent
}

/// What a router must crypt for a batch of DATA cells, with nothing else: link decrypt, one
/// connection crypt per cell, link encrypt (DES-OFB on both links, as the STS keys them).
fn crypto_bound(c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, code: CipherCode) {
    let mut rng = StdRng::seed_from_u64(2);
    let cells = data_cells(BATCH, Aci(1), &mut rng);
    let (mut client, mut rx) = codec_pair(CipherCode::DesOfb);
    let (mut tx, _) = codec_pair(CipherCode::DesOfb);
    let mut engine = Engine::new(code, &KEY);
    let (mut wire, mut got, mut out) = (Vec::new(), Vec::new(), Vec::new());
    c.bench_function("bound_crypto_only", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                wire.clear();
                client.encode_all(&cells, &mut wire);
                let t = Instant::now();
                got.clear();
                rx.decode(&wire, &mut got).expect("in step");
                for cell in &mut got {
                    engine.apply(&mut cell.body);
                }
                out.clear();
                tx.encode_all(&got, &mut out);
                spent += t.elapsed();
                black_box(&out);
            }
            spent
        })
    });
}

/// DATA cells through one router core, 64 KiB per wake-up, mixing interval 0: as a middle
/// router (link → link), as the exit toward the destination, and as the exit back from it.
fn router_data(c: &mut Criterion) {
    for code in CipherCode::ALL {
        let mut g = c.benchmark_group(format!("router_data/{code}"));
        g.throughput(Throughput::Elements(BATCH as u64));

        let mut r = rig(code, &[0, 1]);
        let mut rng = StdRng::seed_from_u64(3);
        let cells = data_cells(BATCH, Aci(1), &mut rng);
        let mut wire = Vec::new();
        r.client.codec.encode_all(&cells, &mut wire);
        let (now, sock) = (r.now, r.client_sock);
        let sent = drive(r.net.node_mut::<Router>(r.router), now, sock, &wire);
        assert_eq!(sent, BATCH * CELL_LEN, "every cell forwarded in one wake-up");
        // Also the fastest single wake-up: on a busy machine the mean moves by ±10 % between
        // runs, the minimum by about 2 % (docs/performance.md compares builds with it).
        let best = std::cell::Cell::new(Duration::MAX);
        g.bench_function(BenchmarkId::new("middle_forward", BATCH), |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    wire.clear();
                    r.client.codec.encode_all(&cells, &mut wire);
                    let router = r.net.node_mut::<Router>(r.router);
                    let t = Instant::now();
                    black_box(drive(router, now, sock, &wire));
                    let e = t.elapsed();
                    best.set(best.get().min(e));
                    spent += e;
                }
                spent
            })
        });
        if best.get() < Duration::MAX {
            eprintln!("router_data/{code}/middle_forward: fastest wake-up {:?} for {BATCH} cells", best.get());
        }

        let mut r = rig(code, &[0]);
        let (now, sock) = (r.now, r.client_sock);
        let stream = r.stream_sock.expect("exit stream");
        g.bench_function(BenchmarkId::new("exit_forward", BATCH), |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let mut batch = cells.clone();
                    for cell in &mut batch {
                        r.fwd.iter_mut().for_each(|e| e.apply(&mut cell.body));
                    }
                    wire.clear();
                    r.client.codec.encode_all(&batch, &mut wire);
                    let router = r.net.node_mut::<Router>(r.router);
                    let t = Instant::now();
                    black_box(drive(router, now, sock, &wire));
                    spent += t.elapsed();
                }
                spent
            })
        });
        assert_eq!(r.net.node::<Router>(r.router).connection_count(), 1, "the exit kept the connection");
        let mut bytes = vec![0u8; BATCH * PAYLOAD_LEN];
        rng.fill_bytes(&mut bytes);
        g.bench_function(BenchmarkId::new("exit_backward", BATCH), |b| {
            let router = r.net.node_mut::<Router>(r.router);
            b.iter(|| drive(router, now, stream, &bytes))
        });
        crypto_bound(&mut g, code);
        g.finish();
    }
}

criterion_group! { name = benches; config = config(); targets = link_codec, conn_crypt, router_data }
criterion_main!(benches);
