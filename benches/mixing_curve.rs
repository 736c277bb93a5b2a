//! The latency/reordering trade-off of the mixer's batch timing, measured on ork's own `Mixer`
//! and `BatchTiming` in virtual time (no sockets, no clock: the figures are exact and the same on
//! every run for a seed).
//!
//! One router's mixer is fed Poisson arrivals of cells from background connections at four
//! loads, plus a sparse probe connection standing for a fresh connection's set-up and request
//! (a cell now and then, alone). For each timing it reports the mean wait of a probe cell at one
//! hop (a fresh 5-hop connection with optimistic data crosses ten hops before its first byte
//! returns, so its mixing delay is ten of these), the background cells' mean wait, and three
//! measures of reordering: the share of cells that left in a batch holding two or more
//! connections, the share of consecutive cells of different connections that left swapped, and
//! the interleaving within batches (switches between connections beyond the minimum, over the
//! possible; the measure of `tests/proc_capture.rs`), and how far a cell moves in the order
//! (mean |departure position − arrival position|, which grows with the batch size).
//!
//! Two designs are swept: the paper's fixed interval (`lone_wait = interval`, interval 0..20 ms)
//! and ork's default, a 10 ms interval with a short wait for company (`lone_wait` 0..10 ms).
//! Writes `bench-results/mixing-curve.csv` and prints a table; `scripts/plot_mixing_curve.py`
//! draws `bench-results/mixing-curve.png` from the CSV.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use ork::router::mixer::{BatchTiming, Mixer};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// Simulated seconds per point.
const SECONDS: f64 = 20.0;
/// The probe connection sends one cell every this many seconds on average.
const PROBE_GAP: f64 = 0.05;
/// Connection id of the probe.
const PROBE: u32 = u32::MAX;

/// Background load: connections × cells per second each.
struct Load {
    name: &'static str,
    conns: u32,
    rate: f64,
}

const LOADS: [Load; 4] = [
    Load { name: "idle", conns: 0, rate: 0.0 },
    Load { name: "light", conns: 2, rate: 50.0 },
    Load { name: "medium", conns: 8, rate: 250.0 },
    Load { name: "heavy", conns: 24, rate: 1000.0 },
];

#[derive(Default)]
struct Figures {
    probe_wait: f64,
    background_wait: f64,
    mixed_share: f64,
    swapped: f64,
    interleave: f64,
    displacement: f64,
}

/// Poisson arrival times of one connection over `SECONDS`.
fn arrivals(rng: &mut ChaCha20Rng, conn: u32, rate: f64, out: &mut Vec<(f64, u32)>) {
    if rate <= 0.0 {
        return;
    }
    let mut t = 0.0;
    loop {
        t += -(1.0 - rng.gen::<f64>()).ln() / rate;
        if t >= SECONDS {
            return;
        }
        out.push((t, conn));
    }
}

fn simulate(timing: BatchTiming, load: &Load, seed: u64) -> Figures {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut cells = Vec::new();
    for c in 0..load.conns {
        arrivals(&mut rng, c, load.rate, &mut cells);
    }
    arrivals(&mut rng, PROBE, 1.0 / PROBE_GAP, &mut cells);
    cells.sort_by(|a, b| a.0.total_cmp(&b.0));

    let t0 = Instant::now();
    let at = |s: f64| t0 + Duration::from_secs_f64(s);
    let secs = |i: Instant| i.duration_since(t0).as_secs_f64();
    let mut mixer: Mixer<u32, usize> = Mixer::new();
    let mut first: Option<Instant> = None;
    let mut due: Option<Instant> = None;
    // Departures: (arrival index, leave time, batch number).
    let mut departed: Vec<(usize, f64, usize)> = Vec::with_capacity(cells.len());
    let mut batch = Vec::new();
    let mut batches = 0usize;
    let mut flush = |mixer: &mut Mixer<u32, usize>, when: Instant, rng: &mut ChaCha20Rng, departed: &mut Vec<_>| {
        batch.clear();
        mixer.drain(rng, &mut batch);
        for &(_, idx) in &batch {
            departed.push((idx, secs(when), batches));
        }
        batches += 1;
    };
    for (idx, &(t, conn)) in cells.iter().enumerate() {
        let now = at(t);
        if let Some(d) = due.filter(|&d| d <= now) {
            flush(&mut mixer, d, &mut rng, &mut departed);
            first = None;
        }
        mixer.push(conn, idx);
        let f = *first.get_or_insert(now);
        due = Some(timing.due(f, mixer.connections()));
    }
    if let Some(d) = due {
        flush(&mut mixer, d, &mut rng, &mut departed);
    }

    let mut f = Figures::default();
    let (mut probe_n, mut bg_n) = (0usize, 0usize);
    for &(idx, left, _) in &departed {
        let (arrived, conn) = cells[idx];
        if conn == PROBE {
            f.probe_wait += left - arrived;
            probe_n += 1;
        } else {
            f.background_wait += left - arrived;
            bg_n += 1;
        }
    }
    f.probe_wait /= probe_n.max(1) as f64;
    f.background_wait /= bg_n.max(1) as f64;

    // Per batch: connections, switches; cells in multi-connection batches.
    let mut mixed_cells = 0usize;
    let (mut excess, mut room) = (0usize, 0usize);
    for group in departed.chunk_by(|a, b| a.2 == b.2) {
        let mut conns: Vec<u32> = group.iter().map(|d| cells[d.0].1).collect();
        let switches = conns.windows(2).filter(|w| w[0] != w[1]).count();
        conns.sort_unstable();
        conns.dedup();
        if conns.len() >= 2 {
            mixed_cells += group.len();
            excess += switches.saturating_sub(conns.len() - 1);
            room += group.len() - conns.len();
        }
    }
    f.mixed_share = mixed_cells as f64 / departed.len().max(1) as f64;
    f.interleave = excess as f64 / room.max(1) as f64;

    // Consecutive arrivals of different connections that left in the other order.
    let mut position = vec![0usize; cells.len()];
    for (pos, &(idx, _, _)) in departed.iter().enumerate() {
        position[idx] = pos;
    }
    let (mut pairs, mut swapped) = (0usize, 0usize);
    for i in 1..cells.len() {
        if cells[i].1 != cells[i - 1].1 {
            pairs += 1;
            if position[i] < position[i - 1] {
                swapped += 1;
            }
        }
    }
    f.swapped = swapped as f64 / pairs.max(1) as f64;
    let moved: usize = position.iter().enumerate().map(|(i, &p)| i.abs_diff(p)).sum();
    f.displacement = moved as f64 / cells.len().max(1) as f64;
    f
}

fn main() {
    let ms = |x: f64| Duration::from_secs_f64(x / 1000.0);
    let mut designs: Vec<(&str, BatchTiming)> = Vec::new();
    for i in [0.0, 1.0, 2.0, 5.0, 10.0, 20.0] {
        designs.push(("fixed", BatchTiming::fixed(ms(i))));
    }
    for l in [0.0, 0.25, 0.5, 1.0, 2.0, 5.0] {
        designs.push(("lone-wait", BatchTiming { interval: ms(10.0), lone_wait: ms(l) }));
    }
    let mut csv = String::from(
        "design,interval_ms,lone_wait_ms,load,probe_wait_ms,fresh_5hop_mixing_delay_ms,background_wait_ms,\
         mixed_share,swapped,interleave,displacement\n",
    );
    println!(
        "{:<10} {:>6} {:>6} {:<7} {:>9} {:>11} {:>9} {:>7} {:>7} {:>7} {:>7}",
        "design", "I ms", "L ms", "load", "probe ms", "fresh 10×", "bg ms", "mixed", "swapped", "interl.", "moved"
    );
    for (name, timing) in &designs {
        for (n, load) in LOADS.iter().enumerate() {
            let f = simulate(*timing, load, 42 + n as u64);
            let (i, l) = (timing.interval.as_secs_f64() * 1e3, timing.lone_wait.as_secs_f64() * 1e3);
            println!(
                "{name:<10} {i:>6.2} {l:>6.2} {:<7} {:>9.3} {:>11.2} {:>9.3} {:>7.3} {:>7.3} {:>7.3} {:>7.2}",
                load.name,
                f.probe_wait * 1e3,
                f.probe_wait * 1e4,
                f.background_wait * 1e3,
                f.mixed_share,
                f.swapped,
                f.interleave,
                f.displacement
            );
            let _ = writeln!(
                csv,
                "{name},{i},{l},{},{:.4},{:.3},{:.4},{:.4},{:.4},{:.4},{:.3}",
                load.name,
                f.probe_wait * 1e3,
                f.probe_wait * 1e4,
                f.background_wait * 1e3,
                f.mixed_share,
                f.swapped,
                f.interleave,
                f.displacement
            );
        }
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-results");
    let path = dir.join("mixing-curve.csv");
    match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, csv)) {
        Ok(()) => println!("wrote {}", path.display()),
        Err(e) => eprintln!("cannot write {}: {e}", path.display()),
    }
}
