//! Target `reply_endpoint`: the owner's reply endpoint ([`ReplyEndpoint`], protocol.md §15)
//! driven through [`Core`] by a script: legs accepted from "hn", bytes on them (heads with the
//! known tag or not, bodies crypted for the record's route or garbage), the service's
//! connection result, bytes, EOF and errors, EOF and errors on legs, time.
//!
//! The store holds one live record (one hop, seed 00×16, whose tag is the vectors'
//! `53b8e193…`) and one used record.
//!
//! Input: operations, one byte each (mod 8) followed by their arguments: 0 accept a leg, 1 bytes
//! on a leg (index, chunk), 2 a valid head on a leg (index), 3 service event (index, kind: connect
//! ok / connect error / bytes / EOF / error), 4 leg EOF, 5 leg error, 6 time passes (seconds),
//! 7 a write-buffer report.
//!
//! Checked: no panic; no action on a socket after the endpoint closed it; at most one service
//! connection per leg and only after a live tag.

use std::collections::HashSet;
use std::io;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::Input;
use crate::client::reply_endpoint::ReplyEndpoint;
use crate::crypto::CipherCode;
use crate::event::{Action, Core, Now, SockId};
use crate::reply::record::{OwnerRecord, Record};
use crate::reply::store::MemStore;
use crate::reply::Tag;

/// Most operations one input runs.
const MAX_OPS: usize = 1024;
/// The fuzzing clock's start (before the records' expiration).
const START_UNIX: u64 = 1_800_000_000;

/// The head of the live record's leg.
pub fn live_head() -> [u8; crate::reply::LEG_HEAD_LEN] {
    Tag::from_seed(&[0; 16]).leg_head()
}

pub fn reply_endpoint(data: &[u8]) {
    let mut inp = Input::new(data);
    let mut store = MemStore::default();
    store.insert(Record::Live(OwnerRecord {
        tag: Tag::from_seed(&[0; 16]),
        expiration: 1_893_456_000,
        forw_f: CipherCode::Aes128Ctr,
        back_f: CipherCode::Aes128Ctr,
        seeds: vec![[0; 16]],
        user_seed: [7; 16],
    }));
    store.insert(Record::Used { tag: Tag::from_seed(&[1; 16]), expiration: 1_893_456_000 });
    let service = "127.0.0.1:8080".parse().expect("address");
    let mut ep = ReplyEndpoint::with_rng(service, store, StdRng::seed_from_u64(1));
    let mut now = Now::new(Instant::now(), START_UNIX);
    let mut legs: Vec<SockId> = Vec::new();
    let mut services: Vec<SockId> = Vec::new();
    let mut closed: HashSet<SockId> = HashSet::new();
    let peer = "127.0.0.1:40000".parse().expect("address");
    for _ in 0..MAX_OPS {
        if inp.is_empty() {
            break;
        }
        let pick = |v: &[SockId], i: u8| (!v.is_empty()).then(|| v[usize::from(i) % v.len()]);
        match inp.u8() % 8 {
            0 => legs.extend(ep.accepted(now, 0, peer)),
            1 => {
                let (i, chunk) = (inp.u8(), inp.chunk());
                if let Some(s) = pick(&legs, i) {
                    ep.received(now, s, chunk);
                }
            }
            2 => {
                if let Some(s) = pick(&legs, inp.u8()) {
                    ep.received(now, s, &live_head());
                }
            }
            3 => {
                let (i, kind) = (inp.u8(), inp.u8() % 5);
                let Some(s) = pick(&services, i) else { continue };
                match kind {
                    0 => ep.connected(now, s, Ok(())),
                    1 => ep.connected(now, s, Err(io::Error::other("refused"))),
                    2 => {
                        let chunk = inp.chunk();
                        ep.received(now, s, chunk);
                    }
                    3 => ep.eof(now, s),
                    _ => ep.failed(now, s, io::Error::other("reset")),
                }
            }
            4 => {
                if let Some(s) = pick(&legs, inp.u8()) {
                    ep.eof(now, s);
                }
            }
            5 => {
                if let Some(s) = pick(&legs, inp.u8()) {
                    ep.failed(now, s, io::Error::other("reset"));
                }
            }
            6 => {
                now = now.after(Duration::from_secs(u64::from(inp.u8() % 16)));
                ep.tick(now);
            }
            _ => {
                let (i, n) = (inp.u8(), inp.u32() as usize);
                if let Some(s) = pick(&legs, i) {
                    ep.write_buffered(now, s, n);
                }
            }
        }
        while let Some(a) = ep.poll_action() {
            match a {
                Action::Connect { sock, .. } => {
                    assert!(!services.contains(&sock), "a service socket connected twice");
                    services.push(sock);
                }
                Action::Send { sock, .. } | Action::ShutdownWrite { sock } => {
                    assert!(!closed.contains(&sock), "action on a closed socket {sock}");
                }
                Action::Close { sock } | Action::Abort { sock } => {
                    assert!(closed.insert(sock), "socket {sock} closed twice");
                }
                _ => {}
            }
        }
    }
    assert!(services.len() <= 1, "one live record: at most one service connection");
    ep.shutdown(now);
}
