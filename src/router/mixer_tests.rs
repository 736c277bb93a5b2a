//! The mixer's tests: per-key order, uniform interleavings, batch timing, buffer reuse.

use super::*;
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

proptest! {
    #[test]
    fn keeps_each_keys_order(
        arrivals in proptest::collection::vec(0u8..8, 0..200),
        seed in any::<u64>(),
    ) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut mixer = Mixer::new();
        for (n, &key) in arrivals.iter().enumerate() {
            mixer.push(key, n);
        }
        prop_assert_eq!(mixer.len(), arrivals.len());
        let mut out = Vec::new();
        mixer.drain(&mut rng, &mut out);
        prop_assert!(mixer.is_empty());
        prop_assert_eq!(out.len(), arrivals.len());
        for key in 0u8..8 {
            let want: Vec<usize> = (0..arrivals.len()).filter(|&n| arrivals[n] == key).collect();
            let got: Vec<usize> = out.iter().filter(|(k, _)| *k == key).map(|&(_, n)| n).collect();
            prop_assert_eq!(want, got);
        }
    }
}

#[test]
fn output_differs_from_arrival_order() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let mut mixer = Mixer::new();
    let mut arrival = Vec::new();
    for round in 0..5 {
        for key in 0..20u32 {
            mixer.push(key, round);
            arrival.push((key, round));
        }
    }
    let mut out = Vec::new();
    mixer.drain(&mut rng, &mut out);
    assert_eq!(out.len(), 100);
    assert_ne!(out, arrival);
    let mut sorted = out.clone();
    sorted.sort();
    arrival.sort();
    assert_eq!(sorted, arrival);
}

#[test]
fn two_single_cells_leave_in_either_order_about_half_the_time() {
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    let mut mixer = Mixer::new();
    let mut out = Vec::new();
    let mut a_first = 0;
    for _ in 0..2000 {
        mixer.push('a', ());
        mixer.push('b', ());
        out.clear();
        mixer.drain(&mut rng, &mut out);
        if out[0].0 == 'a' {
            a_first += 1;
        }
    }
    // Binomial(2000, 1/2): sd ≈ 22, so ±150 is about 7 sd.
    assert!((850..1150).contains(&a_first), "a first {a_first} of 2000");
}

#[test]
fn interleavings_are_uniform() {
    // a,a,b has three interleavings (aab, aba, baa), each with probability 1/3.
    let mut rng = ChaCha20Rng::seed_from_u64(12);
    let mut mixer = Mixer::new();
    let mut out = Vec::new();
    let mut counts = HashMap::new();
    for _ in 0..3000 {
        mixer.push('a', 1);
        mixer.push('b', 0);
        mixer.push('a', 2);
        out.clear();
        mixer.drain(&mut rng, &mut out);
        let keys: String = out.iter().map(|&(k, _)| k).collect();
        *counts.entry(keys).or_insert(0) += 1;
    }
    assert_eq!(counts.len(), 3, "{counts:?}");
    assert!(counts.values().all(|&c| (850..1150).contains(&c)), "{counts:?}");
}

#[test]
fn a_lone_connection_waits_only_for_company() {
    let t0 = Instant::now();
    let ms = Duration::from_millis;
    let timing = BatchTiming { interval: ms(10), lone_wait: ms(1) };
    assert_eq!(timing.due(t0, 1), t0 + ms(1));
    assert_eq!(timing.due(t0, 2), t0 + ms(10));
    assert_eq!(timing.due(t0, 30), t0 + ms(10));
    // The wait for company never exceeds the interval; a fixed mixer holds every batch.
    assert_eq!(BatchTiming { interval: ms(2), lone_wait: ms(5) }.due(t0, 1), t0 + ms(2));
    assert_eq!(BatchTiming::fixed(ms(10)).due(t0, 1), t0 + ms(10));
    assert_eq!(BatchTiming::fixed(Duration::ZERO).due(t0, 3), t0);
}

#[test]
fn counts_the_connections_of_a_batch() {
    let mut rng = ChaCha20Rng::seed_from_u64(14);
    let mut mixer = Mixer::new();
    assert_eq!(mixer.connections(), 0);
    mixer.push('a', 1);
    mixer.push('a', 2);
    assert_eq!(mixer.connections(), 1);
    mixer.push('b', 3);
    assert_eq!(mixer.connections(), 2);
    let mut out = Vec::new();
    mixer.drain(&mut rng, &mut out);
    assert_eq!(mixer.connections(), 0);
}

#[test]
fn items_by_reference_come_in_the_same_mixed_order() {
    for seed in 0..20 {
        let (mut a, mut b) = (Mixer::new(), Mixer::new());
        for n in 0..40u32 {
            a.push(n % (seed % 4 + 1), n);
            b.push(n % (seed % 4 + 1), n);
        }
        let owned: Vec<(u32, u32)> = a.drain_mixed(&mut ChaCha20Rng::seed_from_u64(seed.into())).collect();
        let mut batch = b.drain_mixed(&mut ChaCha20Rng::seed_from_u64(seed.into()));
        let by_ref: Vec<(u32, u32)> = batch.by_ref_items().map(|(k, &n)| (k, n)).collect();
        assert_eq!(owned, by_ref, "seed {seed}");
        assert_eq!(batch.by_ref_items().count(), 0, "each item once");
        drop(batch);
        assert!(b.is_empty() && b.queued(0) == 0);
    }
    // A batch dropped half read leaves the mixer empty too.
    let mut m = Mixer::new();
    (0..10).for_each(|n| m.push(n % 2, n));
    m.drain_mixed(&mut ChaCha20Rng::seed_from_u64(1)).by_ref_items().take(3).for_each(drop);
    assert!(m.is_empty() && m.queued(0) == 0 && m.queued(1) == 0);
}

#[test]
fn reuses_buffers_between_batches() {
    let mut rng = ChaCha20Rng::seed_from_u64(13);
    let mut mixer = Mixer::new();
    let mut out = Vec::with_capacity(64);
    for _ in 0..3 {
        for n in 0..30 {
            mixer.push(n % 3, n);
        }
        assert_eq!(mixer.queued(1), 10);
        out.clear();
        mixer.drain(&mut rng, &mut out);
    }
    assert_eq!(mixer.queues.len(), 3);
    assert!(mixer.order.capacity() >= 30 && mixer.queues.iter().all(|q| q.capacity() >= 10));
    assert_eq!(mixer.queued(1), 0);
    assert!(mixer.is_empty());
}
