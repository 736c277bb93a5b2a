//! The link table on its own: two tables key a link in memory, carry a cell, and the dialling
//! side plans a redial after the link is lost.

use std::collections::VecDeque;
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;

use super::*;
use crate::config::neighbors::Neighbor;
use crate::wire::Command;

fn keys() -> Vec<Arc<RsaPrivateKey>> {
    crate::fuzzing::keys::vector_keys().to_vec()
}

fn table(me: SocketAddrV4, key: &Arc<RsaPrivateKey>, other: SocketAddrV4, other_key: &RsaPrivateKey) -> LinkTable {
    let settings = LinkSettings {
        identity: me,
        key: key.clone(),
        timers: crate::router::Timeouts::default().link_timers(),
        padding_rate: 0.0,
        stable_after: Duration::from_secs(60),
        key_log: false,
    };
    let neighbor = Neighbor { addr: other, key: other_key.to_public_key(), key_path: "k.pub".into() };
    LinkTable::new(settings, &[neighbor])
}

/// Bytes the table asked to send on `sock`, taken out of `out`.
fn sent(out: &mut VecDeque<Action>, sock: SockId) -> Vec<u8> {
    let mut bytes = Vec::new();
    out.retain(|a| match a {
        Action::Send { sock: s, data } if *s == sock => {
            bytes.extend_from_slice(data);
            false
        }
        _ => true,
    });
    bytes
}

#[test]
fn two_tables_key_a_link_carry_a_cell_and_redial_after_loss() {
    let keys = keys();
    let (high, low): (SocketAddrV4, SocketAddrV4) =
        ("127.0.0.1:9002".parse().unwrap(), "127.0.0.1:9001".parse().unwrap());
    let mut a = table(high, &keys[0], low, &keys[1]);
    let mut b = table(low, &keys[1], high, &keys[0]);
    let (mut ids_a, mut ids_b) = (SockIds::default(), SockIds::default());
    let (mut out_a, mut out_b) = (VecDeque::new(), VecDeque::new());
    let (mut ev_a, mut ev_b) = (Vec::new(), Vec::new());
    let mut rng = StdRng::seed_from_u64(5);
    let mut now = Now::new(std::time::Instant::now(), 1_700_000_000);

    // The higher address dials the lower one; the lower one only wakes it up.
    a.start(now, &mut ids_a, &mut out_a);
    b.start(now, &mut ids_b, &mut out_b);
    assert!(out_a.is_empty(), "the dial waits for the redial clock");
    assert!(matches!(out_b.pop_front(), Some(Action::Connect { addr, .. }) if addr == SocketAddr::V4(high)));
    out_b.clear();
    let mut pad = Vec::new();
    a.upkeep(now, &mut rng, &mut ids_a, &mut out_a, &mut pad, &mut ev_a);
    let Some(Action::Connect { sock: sa, .. }) = out_a.pop_front() else { panic!("A dials: {out_a:?}") };
    let sb = b.accept(now, SocketAddr::V4(high), &mut ids_b, &mut rng);
    a.connected(now, sa, Ok(()), &mut rng, &mut out_a, &mut ev_a);

    let mut cells = Vec::new();
    for _ in 0..6 {
        let to_b = sent(&mut out_a, sa);
        if !to_b.is_empty() {
            b.received(now, sb, &to_b, &mut ids_b, &mut out_b, &mut cells, &mut ev_b);
        }
        let to_a = sent(&mut out_b, sb);
        if !to_a.is_empty() {
            a.received(now, sa, &to_a, &mut ids_a, &mut out_a, &mut cells, &mut ev_a);
        }
    }
    assert_eq!(ev_a, vec![LinkEvent::Up]);
    assert_eq!(ev_b, vec![LinkEvent::Up]);
    assert!(a.is_carrier(sa) && b.is_carrier(sb));
    assert_eq!((a.link_to(low), b.link_to(high)), (Some(sa), Some(sb)));

    let cell = Cell::with_data(Aci(7), Command::Data, b"hello", &mut rng).unwrap();
    a.send_batch(now, std::iter::once((sa, &cell)), &mut out_a);
    b.received(now, sb, &sent(&mut out_a, sa), &mut ids_b, &mut out_b, &mut cells, &mut ev_b);
    assert_eq!(cells, vec![cell], "the cell arrives whole");
    assert_eq!(a.carriers().map(|l| l.cells_out).sum::<u64>(), 1);

    assert_eq!(a.lose(now, sa, LinkLoss::ClosedByPeer, &mut rng, &mut out_a), Some(true));
    assert!(matches!(out_a.pop_front(), Some(Action::Close { sock }) if sock == sa));
    assert_eq!(a.lose(now, sa, LinkLoss::ClosedByPeer, &mut rng, &mut out_a), None, "once");
    assert_eq!(a.link_to(low), None);
    // The backoff runs out within a minute; then the table dials again.
    for _ in 0..240 {
        now = now.after(Duration::from_millis(250));
        a.upkeep(now, &mut rng, &mut ids_a, &mut out_a, &mut pad, &mut ev_a);
    }
    assert!(
        out_a.iter().any(|x| matches!(x, Action::Connect { addr, .. } if *addr == SocketAddr::V4(low))),
        "redialled"
    );
}
