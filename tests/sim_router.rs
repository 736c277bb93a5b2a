//! In-memory tests of one router's rules (protocol.md §2, §5, §6) with a raw anonymous client:
//! replayed and stale onions, the DESTROY handshake and ACI reuse, mixing, and onion cells
//! never leaving as a burst right after an RSA operation.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use ork::crypto::{CipherCode, Engine};
use ork::router::replay::{MemoryReplayStore, ReplayCache, RECORD_LEN};
use ork::router::{OnionRefusal, Router};
use ork::sim::ServerKind;
use ork::wire::{Aci, Cell, Command};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn destroys(cells: &[Cell]) -> Vec<u16> {
    cells.iter().filter(|c| c.command == Command::Destroy).map(|c| c.aci.0).collect()
}

#[test]
fn replayed_expired_and_far_future_onions_are_refused() {
    let (mut net, routers) = routers_only(2, full_mesh(2), Duration::ZERO);
    let mut client = RawClient::connect(&mut net, 0);
    let now = net.now.unix as u32;
    let (onion, _) = onion_for(&[0, 1], now + 60, 1);
    client.send(&mut net, &create_cells(1, &onion));
    net.run();
    assert!(destroys(&client.cells(&net)).is_empty(), "a fresh onion is accepted");
    assert_eq!(net.node::<Router>(routers[0]).stats().onions_peeled, 1);

    client.send(&mut net, &create_cells(2, &onion));
    let (expired, _) = onion_for(&[0, 1], now - 10, 2);
    client.send(&mut net, &create_cells(3, &expired));
    let (future, _) = onion_for(&[0, 1], now + 7200, 3);
    client.send(&mut net, &create_cells(4, &future));
    net.run();
    let mut refused = destroys(&client.cells(&net));
    refused.sort_unstable(); // the mixer shuffles cells of different connections
    assert_eq!(refused, vec![2, 3, 4]);
    let refused = &net.node::<Router>(routers[0]).stats().onions_refused;
    assert_eq!(refused.get(&OnionRefusal::Replayed), Some(&1), "{refused:?}");
    assert_eq!(refused.get(&OnionRefusal::Expired), Some(&1), "{refused:?}");
    assert_eq!(refused.get(&OnionRefusal::TooFarAhead), Some(&1), "{refused:?}");
}

#[test]
fn a_restarted_router_still_refuses_an_onion_it_accepted_before() {
    // The replay cache writes through its store (in memory here, a file in production); the
    // restarted router loads it, so the onion tapped before the restart is refused after it.
    let links = full_mesh(2);
    let (mut net, routers) = routers_only(2, links.clone(), Duration::ZERO);
    let store = MemoryReplayStore::default();
    let cache = |now| ReplayCache::with_store(Box::new(store.clone()), 1000, now, "memory").expect("load");
    let fresh = router_with_cache(0, &links, 7, cache(net.now.unix), |c| c.mixing.interval = Duration::ZERO);
    net.restart(routers[0], fresh, vec![SocketAddr::V4(router_addr(0))]);
    net.advance(Duration::from_secs(2), Duration::from_millis(100));
    let mut client = RawClient::connect(&mut net, 0);
    let (onion, _) = onion_for(&[0, 1], net.now.unix as u32 + 600, 1);
    client.send(&mut net, &create_cells(1, &onion));
    net.run();
    assert!(destroys(&client.cells(&net)).is_empty(), "accepted before the restart");
    assert_eq!(store.bytes().len(), RECORD_LEN, "its key seed recorded in the store");

    let restarted = router_with_cache(0, &links, 8, cache(net.now.unix), |c| c.mixing.interval = Duration::ZERO);
    net.restart(routers[0], restarted, vec![SocketAddr::V4(router_addr(0))]);
    net.advance(Duration::from_secs(2), Duration::from_millis(100));
    let mut client = RawClient::connect(&mut net, 0);
    client.send(&mut net, &create_cells(1, &onion));
    net.run();
    assert_eq!(destroys(&client.cells(&net)), vec![1], "the replay is refused after the restart");
    let refused = &net.node::<Router>(routers[0]).stats().onions_refused;
    assert_eq!(refused.get(&OnionRefusal::Replayed), Some(&1), "{refused:?}");
}

#[test]
fn create_on_the_receivers_half_and_unknown_destroy() {
    let (mut net, routers) = routers_only(2, full_mesh(2), Duration::ZERO);
    let mut client = RawClient::connect(&mut net, 0);
    let (onion, _) = onion_for(&[0, 1], net.now.unix as u32 + 60, 1);
    // The router is the higher end of an anonymous client's link: 0x8000.. is its half.
    client.send(&mut net, &create_cells(0x8001, &onion));
    let mut rng = StdRng::seed_from_u64(1);
    client.send(&mut net, &[Cell::destroy(Aci(77), &mut rng)]);
    net.run();
    assert_eq!(destroys(&client.cells(&net)), vec![0x8001]);
    assert_eq!(net.node::<Router>(routers[0]).stats().destroy_unknown_aci, 1);
}

#[test]
fn an_aci_is_reused_only_after_the_destroy_is_acknowledged() {
    let (mut net, routers) = routers_only(2, full_mesh(2), Duration::ZERO);
    net.add_server("127.0.0.1:7000".parse().unwrap(), ServerKind::Sink);
    let mut client = RawClient::connect(&mut net, 0);
    let (onion, _) = onion_for(&[0, 1], net.now.unix as u32 + 60, 1);
    client.send(&mut net, &create_cells(1, &onion));
    net.run();
    let r1 = routers[0];
    assert_eq!(net.node::<Router>(r1).acis_in_use(), 1, "r1 allocated an ACI toward r2");
    let mut rng = StdRng::seed_from_u64(1);
    client.send(&mut net, &[Cell::destroy(Aci(1), &mut rng)]);
    // Step until r1 has forwarded the DESTROY but r2's acknowledgement is not back yet.
    let mut saw_pending = false;
    for _ in 0..10 {
        net.step();
        if net.node::<Router>(r1).connection_count() == 0 {
            saw_pending |= net.node::<Router>(r1).acis_in_use() == 1;
            break;
        }
    }
    assert!(saw_pending, "the ACI stays allocated while the DESTROY is unacknowledged");
    net.run();
    assert_eq!(net.node::<Router>(r1).acis_in_use(), 0, "freed by the acknowledgement");
    assert_eq!(destroys(&client.cells(&net)), vec![1], "the client's DESTROY is acknowledged");
    assert_eq!(net.node::<Router>(routers[1]).connection_count(), 0);
}

/// Open `n` connections r1 → r2 (exit) to sink servers on ports 7000.., returning each
/// connection's forward engines (r1's and r2's).
fn open_connections(net: &mut ork::sim::SimNet, client: &mut RawClient, n: u16) -> Vec<Vec<Engine>> {
    let mut all = Vec::new();
    for i in 0..n {
        let port = 7000 + i;
        net.add_server(format!("127.0.0.1:{port}").parse().unwrap(), ServerKind::Sink);
        let (onion, keys) = onion_for(&[0, 1], net.now.unix as u32 + 60, 100 + u64::from(i));
        client.send(net, &create_cells(i + 1, &onion));
        let mut fwd: Vec<Engine> = keys.iter().map(|k| Engine::new(CipherCode::Rc4, &k.key3)).collect();
        send_data(net, client, &mut fwd, i + 1, &structure("127.0.0.1", port));
        all.push(fwd);
    }
    net.advance(Duration::from_millis(100), Duration::from_millis(10));
    all
}

fn send_data(net: &mut ork::sim::SimNet, client: &mut RawClient, fwd: &mut [Engine], aci: u16, data: &[u8]) {
    let mut rng = StdRng::seed_from_u64(u64::from(aci));
    let mut cell = Cell::with_data(Aci(aci), Command::Data, data, &mut rng).expect("cell");
    fwd.iter_mut().for_each(|e| e.apply(&mut cell.body));
    client.send(net, &[cell]);
}

#[test]
fn mixing_reorders_across_connections_and_keeps_each_connections_order() {
    let (mut net, _) = routers_only(2, full_mesh(2), Duration::from_millis(20));
    let mut client = RawClient::connect(&mut net, 0);
    let n = 20u16;
    let mut engines = open_connections(&mut net, &mut client, n);
    net.arrivals.clear();
    let first_conn = net.server_conns.len() - usize::from(n);
    // Five numbered cells per connection, sent round-robin within one mixing interval.
    for round in 0..5u8 {
        for i in 0..n {
            send_data(&mut net, &mut client, &mut engines[usize::from(i)], i + 1, &[b'a' + round; 10]);
        }
    }
    net.advance(Duration::from_millis(100), Duration::from_millis(5));
    // The exit writes a run of cells for one connection as one send, so count 10-byte cells
    // rather than writes.
    let order: Vec<usize> =
        net.arrivals.iter().flat_map(|&(c, n)| std::iter::repeat(c - first_conn).take(n / 10)).collect();
    assert_eq!(order.len(), 100, "every cell arrived");
    let arrival: Vec<usize> = (0..5).flat_map(|_| 0..usize::from(n)).collect();
    assert_ne!(order, arrival, "cells left in the order they arrived");
    for i in 0..usize::from(n) {
        let got = &net.server_conns[first_conn + i].received;
        let want: Vec<u8> = (0..5u8).flat_map(|r| [b'a' + r; 10]).collect();
        assert_eq!(got, &want, "connection {i} kept its order");
    }
}

#[test]
fn onion_cells_leave_with_the_batch_not_as_a_burst_after_rsa() {
    let (mut net, routers) = routers_only(2, full_mesh(2), Duration::from_millis(10));
    let mut client = RawClient::connect(&mut net, 0);
    let mut engines = open_connections(&mut net, &mut client, 10);
    net.log_wire = true;
    net.wire_log.clear();
    for i in 0..10u16 {
        send_data(&mut net, &mut client, &mut engines[usize::from(i)], i + 1, b"queued");
    }
    let (onion, _) = onion_for(&[0, 1], net.now.unix as u32 + 60, 999);
    client.send(&mut net, &create_cells(50, &onion));
    net.run(); // delivered and processed (RSA included), but the interval has not ended
    let r1_to_r2 = |net: &ork::sim::SimNet| -> Vec<usize> {
        net.wire_log
            .iter()
            .filter(|(e, _)| matches!(e, ork::sim::End::Node(0, _)))
            .map(|(_, d)| d.len() / ork::wire::CELL_LEN)
            .collect()
    };
    assert!(r1_to_r2(&net).is_empty(), "nothing left r1 before the mixing interval ended");
    // The operator's view: the batch waits in the mixer, counted on the link it will leave by.
    let queued = |net: &ork::sim::SimNet| -> Vec<(String, usize)> {
        let report = net.node::<Router>(routers[0]).status_report(net.now);
        report.links.iter().map(|l| (l.peer.clone(), l.queued_cells)).filter(|(_, n)| *n > 0).collect()
    };
    assert_eq!(queued(&net), vec![("router 127.0.0.1:9002".to_string(), 16)], "queue depth per link");
    net.advance(Duration::from_millis(10), Duration::from_millis(10));
    assert_eq!(r1_to_r2(&net), vec![16], "10 DATA and 6 CREATE cells left r1 as one batch");
    assert!(queued(&net).is_empty(), "the mixer is empty after the batch left");
}

/// Batches (link writes) in which r2 sends the DESTROYs caused by losing r3, for 20 connections
/// r1 → r2 → r3, and the time from the first to the last.
fn destroy_burst(jitter: Duration) -> (usize, Duration) {
    let (mut net, routers) = routers_with_jitter(3, full_mesh(3), Duration::from_millis(10), jitter);
    let mut client = RawClient::connect(&mut net, 0);
    for i in 0..20u16 {
        let port = 7000 + i;
        net.add_server(format!("127.0.0.1:{port}").parse().unwrap(), ServerKind::Sink);
        let (onion, keys) = onion_for(&[0, 1, 2], net.now.unix as u32 + 60, 300 + u64::from(i));
        client.send(&mut net, &create_cells(i + 1, &onion));
        let mut fwd: Vec<Engine> = keys.iter().map(|k| Engine::new(CipherCode::Rc4, &k.key3)).collect();
        send_data(&mut net, &mut client, &mut fwd, i + 1, &structure("127.0.0.1", port));
    }
    net.advance(Duration::from_millis(100), Duration::from_millis(10));
    assert_eq!(net.node::<Router>(routers[1]).connection_count(), 20);
    net.log_wire = true;
    let start = net.now.mono;
    let mut writes: Vec<std::time::Instant> = Vec::new();
    net.kill(routers[2]);
    for _ in 0..100 {
        let before = net.wire_log.len();
        net.advance(Duration::from_millis(5), Duration::from_millis(5));
        // r2's writes toward r1 (node index 1); each is one batch.
        let n = net.wire_log[before..].iter().filter(|(e, _)| matches!(e, ork::sim::End::Node(1, _))).count();
        writes.extend(std::iter::repeat(net.now.mono).take(n));
    }
    let got = destroys(&client.cells(&net));
    assert_eq!(got.len(), 20, "every connection destroyed toward the client");
    let spread = writes.last().copied().unwrap_or(start) - writes.first().copied().unwrap_or(start);
    (writes.len(), spread)
}

#[test]
fn destroy_jitter_spreads_a_link_failures_destroy_burst() {
    let (batches, spread) = destroy_burst(Duration::ZERO);
    eprintln!("destroy burst without jitter: {batches} batch(es) over {spread:?}");
    assert_eq!(batches, 1, "without jitter a link loss sends all DESTROYs in one batch");
    assert_eq!(spread, Duration::ZERO);
    let (batches, spread) = destroy_burst(Duration::from_millis(200));
    eprintln!("destroy burst with 200 ms jitter: {batches} batch(es) over {spread:?}");
    assert!(batches >= 5, "with 200 ms jitter the DESTROYs spread over many batches: {batches}");
    assert!(spread >= Duration::from_millis(100), "over {spread:?}");
}

/// CREATE cells that never complete (issue 8): the reassembly is given up after the create
/// timeout with a DESTROY and a counted reason; a later onion on the same ACI is not cut short by
/// the first one's timer, and thousands of hostile partial CREATEs, DATA for unknown ACIs and
/// DESTROYs for unknown ACIs leave nothing behind.
#[test]
fn create_that_never_completes_times_out_and_floods_leave_nothing() {
    let (mut net, routers) = routers_only(2, full_mesh(2), Duration::ZERO);
    let mut client = RawClient::connect(&mut net, 0);
    let (onion, _) = onion_for(&[0, 1], net.now.unix as u32 + 600, 1);
    let cells = create_cells(5, &onion);
    client.send(&mut net, &cells[..3]);
    net.advance(Duration::from_secs(9), Duration::from_millis(500));
    assert!(destroys(&client.cells(&net)).is_empty(), "still within the create timeout");
    net.advance(Duration::from_secs(2), Duration::from_millis(500));
    assert_eq!(destroys(&client.cells(&net)), vec![5], "given up after 10 s");
    let stats = net.node::<Router>(routers[0]).stats();
    assert_eq!(stats.onions_refused.get(&OnionRefusal::CreateTimeout), Some(&1), "{:?}", stats.onions_refused);
    // Acknowledge, then reuse ACI 5: the old timer must not touch the new reassembly.
    let mut rng = StdRng::seed_from_u64(9);
    client.send(&mut net, &[Cell::destroy(Aci(5), &mut rng)]);
    net.advance(Duration::from_secs(5), Duration::from_millis(500));
    let (second, _) = onion_for(&[0, 1], net.now.unix as u32 + 600, 2);
    let cells = create_cells(5, &second);
    client.send(&mut net, &cells[..3]);
    net.advance(Duration::from_secs(6), Duration::from_millis(500)); // the first timer's time has long passed
    client.send(&mut net, &cells[3..]);
    net.run();
    assert!(destroys(&client.cells(&net)).is_empty(), "the second onion completes");
    assert_eq!(net.node::<Router>(routers[0]).stats().onions_peeled, 1);

    // A flood: 3,000 partial CREATEs, 3,000 DATA and 3,000 DESTROYs for unknown ACIs.
    let mut flood = Vec::new();
    for aci in 100..3100u16 {
        flood.push(Cell { aci: Aci(aci), ..cells[0] });
        flood.push(Cell::random_body(Aci(aci + 4000), Command::Data, &mut rng));
        flood.push(Cell::destroy(Aci(aci + 8000), &mut rng));
    }
    client.send(&mut net, &flood);
    net.run();
    let r = net.node::<Router>(routers[0]);
    assert_eq!(r.stats().data_unknown_aci, 3000);
    assert_eq!(r.stats().destroy_unknown_aci, 3000);
    net.advance(Duration::from_secs(11), Duration::from_secs(1));
    let r = net.node::<Router>(routers[0]);
    // At most MAX_CREATING_PER_LINK reassemblies at once: the rest are refused at once.
    let held = ork::router::MAX_CREATING_PER_LINK as u64;
    assert_eq!(r.stats().onions_refused.get(&OnionRefusal::TooManyInProgress), Some(&(3000 - held)));
    assert_eq!(r.stats().onions_refused.get(&OnionRefusal::CreateTimeout), Some(&(1 + held)));
    assert_eq!(r.connection_count(), 1, "only the real connection is left");
    let back = client.cells(&net);
    assert_eq!(destroys(&back).len(), 3000, "every partial CREATE answered with a DESTROY");
}

/// Partial CREATEs are bounded over all links too: nine clients with 1,000 each fill the
/// router's 8,192 places, the rest are refused at once, and a real onion gets through again once
/// the partial ones have timed out.
#[test]
fn partial_creates_are_bounded_over_all_links() {
    use ork::router::{MAX_CREATING, MAX_CREATING_PER_LINK};
    let (mut net, routers) = routers_only(2, full_mesh(2), Duration::ZERO);
    let (onion, _) = onion_for(&[0, 1], net.now.unix as u32 + 600, 1);
    let first = create_cells(1, &onion)[0].clone();
    let per_client = 1000u16;
    assert!(usize::from(per_client) <= MAX_CREATING_PER_LINK);
    let mut clients = Vec::new();
    for _ in 0..9 {
        let mut c = RawClient::connect(&mut net, 0);
        let flood: Vec<Cell> = (1..=per_client).map(|aci| Cell { aci: Aci(aci), ..first.clone() }).collect();
        c.send(&mut net, &flood);
        clients.push(c);
    }
    net.run();
    let refused = 9 * u64::from(per_client) - MAX_CREATING as u64;
    let stats = net.node::<Router>(routers[0]).stats();
    assert_eq!(
        stats.onions_refused.get(&OnionRefusal::TooManyInProgress),
        Some(&refused),
        "{:?}",
        stats.onions_refused
    );
    let answered: usize = clients.iter_mut().map(|c| destroys(&c.cells(&net)).len()).sum();
    assert_eq!(answered as u64, refused, "every refused CREATE answered with a DESTROY");
    // While full, a real onion is refused too; after the timeout it goes through.
    let mut real = RawClient::connect(&mut net, 0);
    real.send(&mut net, &create_cells(7, &onion));
    net.run();
    assert_eq!(destroys(&real.cells(&net)), vec![7]);
    net.advance(Duration::from_secs(11), Duration::from_secs(1));
    let stats = net.node::<Router>(routers[0]).stats();
    assert_eq!(stats.onions_refused.get(&OnionRefusal::CreateTimeout), Some(&(MAX_CREATING as u64)));
    let (again, _) = onion_for(&[0, 1], net.now.unix as u32 + 600, 2);
    real.send(&mut net, &create_cells(9, &again));
    net.run();
    assert!(destroys(&real.cells(&net)).is_empty(), "a real onion is peeled once there is room");
    assert_eq!(net.node::<Router>(routers[0]).stats().onions_peeled, 1);
}

#[test]
fn a_lone_connection_waits_only_for_company_and_a_mixed_batch_the_whole_interval() {
    // Default timing: 10 ms batches, 1 ms wait for a second connection.
    let (mut net, _) = routers_only(2, full_mesh(2), Duration::from_millis(10));
    let mut client = RawClient::connect(&mut net, 0);
    let mut engines = open_connections(&mut net, &mut client, 2);
    net.log_wire = true;
    let r1_to_r2 = |net: &mut ork::sim::SimNet| -> Vec<usize> {
        let sent = net
            .wire_log
            .iter()
            .filter(|(e, _)| matches!(e, ork::sim::End::Node(0, _)))
            .map(|(_, d)| d.len() / ork::wire::CELL_LEN)
            .collect();
        net.wire_log.clear();
        sent
    };
    net.wire_log.clear();
    // One connection's cells alone: they leave after the 1 ms wait, not the 10 ms interval.
    send_data(&mut net, &mut client, &mut engines[0], 1, b"alone");
    send_data(&mut net, &mut client, &mut engines[0], 1, b"alone again");
    net.run();
    assert!(r1_to_r2(&mut net).is_empty(), "nothing leaves before the wait for company ends");
    net.advance(Duration::from_millis(1), Duration::from_millis(1));
    assert_eq!(r1_to_r2(&mut net), vec![2], "a lone connection's batch left after 1 ms");
    // Two connections in the batch: held the whole interval, then one mixed batch.
    send_data(&mut net, &mut client, &mut engines[0], 1, b"first");
    send_data(&mut net, &mut client, &mut engines[1], 2, b"second");
    net.run();
    net.advance(Duration::from_millis(9), Duration::from_millis(1));
    assert!(r1_to_r2(&mut net).is_empty(), "a batch of two connections is held the whole interval");
    net.advance(Duration::from_millis(1), Duration::from_millis(1));
    assert_eq!(r1_to_r2(&mut net), vec![2], "then leaves as one batch");
}
