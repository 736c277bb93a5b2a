//! Replay protection across a restart (protocol.md §5): an onion captured and sent again is refused,
//! also after the router restarts, because the replay cache lives in --state-dir; so is an
//! onion captured by a tap on a real onion proxy's link, and expired or too-far-ahead onions.

mod procs;

use std::io::{Read, Write};
use std::net::{SocketAddrV4, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ork::crypto::{rsa_block, CipherCode};
use ork::link::{Dialler, LinkCodec};
use ork::onion::{build, OnionPlan, RouteHop};
use ork::wire::{Aci, Cell, Command};
use procs::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

struct Raw {
    s: TcpStream,
    codec: LinkCodec,
    rest: Vec<u8>,
}

fn raw_connect(bed: &Bed, i: usize) -> Raw {
    let addr: SocketAddrV4 = format!("127.0.0.1:{}", bed.ports[i]).parse().unwrap();
    let key = rsa_block::load_public_key(&bed.path(&format!("r{}.pub", i + 1))).unwrap();
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let (mut hs, msg1) = Dialler::new(None, addr, key, &mut StdRng::from_entropy()).unwrap();
    s.write_all(&msg1).unwrap();
    let mut buf = Vec::new();
    loop {
        let mut b = [0u8; 512];
        if let Ok(n) = s.read(&mut b) {
            buf.extend_from_slice(&b[..n]);
        }
        let p = hs.read(&buf).expect("handshake");
        if let Some(est) = p.established {
            s.write_all(&p.send).unwrap();
            return Raw { s, codec: est.codec, rest: buf[p.consumed..].to_vec() };
        }
    }
}

impl Raw {
    fn send_onion(&mut self, aci: u16, onion: &[u8]) {
        let mut rng = StdRng::seed_from_u64(1);
        let mut out = Vec::new();
        for r in ork::router::create_chunks() {
            let c = Cell::with_data(Aci(aci), Command::Create, &onion[r], &mut rng).unwrap();
            self.codec.encode(&c, &mut out);
        }
        self.s.write_all(&out).unwrap();
    }

    /// Cells that arrive within a second.
    fn cells(&mut self) -> Vec<Cell> {
        let mut data = std::mem::take(&mut self.rest);
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        while std::time::Instant::now() < deadline {
            let mut b = [0u8; 4096];
            match self.s.read(&mut b) {
                Ok(0) => break,
                Ok(n) => data.extend_from_slice(&b[..n]),
                Err(_) => {}
            }
        }
        let mut cells = Vec::new();
        self.codec.decode(&data, &mut cells).expect("cells");
        cells
    }
}

/// Kill r1, start it again (same --state-dir) and send `onion` on ACI 1 of a new link: it must
/// be refused with DESTROY.
fn restart_r1_and_replay(bed: &mut Bed, onion: &[u8]) {
    bed.kill("r1");
    bed.restart("r1");
    bed.wait_links();
    let mut c = raw_connect(bed, 0);
    c.send_onion(1, onion);
    let cells = c.cells();
    assert!(cells.iter().any(|x| x.command == Command::Destroy && x.aci == Aci(1)), "replay after restart: {cells:?}");
}

#[test]
fn a_replayed_onion_is_refused_before_and_after_restart() {
    let mut bed = Bed::new(2, vec![(0, 1)]);
    bed.start_routers(&["--mix-interval", "0s"]);
    let hops: Vec<RouteHop> = (0..2)
        .map(|i| RouteHop {
            addr: format!("127.0.0.1:{}", bed.ports[i]).parse().unwrap(),
            key: rsa_block::load_public_key(&bed.path(&format!("r{}.pub", i + 1))).unwrap(),
        })
        .collect();
    let now = ork::event::Now::system().unix as u32;
    let plan = OnionPlan::random(2, CipherCode::Rc4, CipherCode::Rc4, now + 300, &mut StdRng::from_entropy());
    let onion = build(&hops, &plan).unwrap();

    let mut c = raw_connect(&bed, 0);
    c.send_onion(1, &onion);
    assert!(c.cells().iter().all(|x| x.command != Command::Destroy), "first use accepted");
    c.send_onion(2, &onion);
    let cells = c.cells();
    assert!(cells.iter().any(|x| x.command == Command::Destroy && x.aci == Aci(2)), "replay refused: {cells:?}");

    restart_r1_and_replay(&mut bed, &onion);
    assert_eq!(bed.log("r1").matches("refused onion on ACI").count(), 2, "two refusals logged");
    assert!(bed.log("r1").contains("replayed"));
}

fn route(bed: &Bed, n: usize) -> Vec<RouteHop> {
    (0..n)
        .map(|i| RouteHop {
            addr: format!("127.0.0.1:{}", bed.ports[i]).parse().unwrap(),
            key: rsa_block::load_public_key(&bed.path(&format!("r{}.pub", i + 1))).unwrap(),
        })
        .collect()
}

/// A TCP relay in front of `to` that records every byte its client sends: a wiretap on the link.
fn tap(to: u16) -> (u16, Arc<Mutex<Vec<u8>>>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind tap");
    let port = l.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for client in l.incoming().flatten() {
            let server = TcpStream::connect(("127.0.0.1", to)).expect("tap to router");
            let (mut c_in, mut s_out) = (client.try_clone().expect("clone"), server.try_clone().expect("clone"));
            let record = record.clone();
            std::thread::spawn(move || {
                let mut b = [0u8; 4096];
                while let Ok(n @ 1..) = c_in.read(&mut b) {
                    record.lock().expect("tap lock").extend_from_slice(&b[..n]);
                    if s_out.write_all(&b[..n]).is_err() {
                        break;
                    }
                }
            });
            let (mut s_in, mut c_out) = (server, client);
            std::thread::spawn(move || std::io::copy(&mut s_in, &mut c_out));
        }
    });
    (port, seen)
}

#[test]
fn an_onion_tapped_from_a_link_is_refused_when_replayed_also_after_restart() {
    let mut bed = Bed::new(2, vec![(0, 1)]);
    bed.start_routers(&["--mix-interval", "0s"]);
    // The onion proxy reaches r1 through a tap: its network file names the tap as r1.
    let (tap_port, seen) = tap(bed.ports[0]);
    let net = std::fs::read_to_string(bed.path("network.txt")).unwrap();
    let tapped = net.replace(&format!("127.0.0.1:{} r1.pub", bed.ports[0]), &format!("127.0.0.1:{tap_port} r1.pub"));
    std::fs::write(bed.path("network.txt"), tapped).unwrap(); // read by the onion proxy only
    let op = bed.start_onion_proxy("op", &["--hops", "2"]);
    let mut c = anon_connect(op, "127.0.0.1", echo_server()).expect("a real connection through the tap");
    c.write_all(b"hello through two routers").unwrap();
    let mut back = [0u8; 25];
    c.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"hello through two routers");

    // What the wire shows without any key: the 6-byte identity and message 1 (an anonymous
    // client sends no message 3), then cells whose payloads (bytes 4..48 of a CREATE) are not
    // link-crypted; protocol.md §5 fixes the onion's split into Lengths 44,44,44,44,44,20.
    let wire = seen.lock().unwrap().clone();
    let cells = &wire[6 + 128..];
    assert!(cells.len() >= 6 * 48, "the CREATE cells crossed the tap");
    let onion: Vec<u8> =
        (0..6).flat_map(|i| cells[i * 48 + 4..i * 48 + 4 + if i < 5 { 44 } else { 20 }].to_vec()).collect();
    drop(c);

    let mut attacker = raw_connect(&bed, 0);
    attacker.send_onion(1, &onion);
    let got = attacker.cells();
    assert!(got.iter().any(|x| x.command == Command::Destroy && x.aci == Aci(1)), "tapped onion replayed: {got:?}");
    assert!(bed.log("r1").contains("refused onion on ACI 0x0001: replayed"), "{}", bed.log("r1"));

    restart_r1_and_replay(&mut bed, &onion);
    assert_eq!(bed.log("r1").matches("refused onion on ACI 0x0001: replayed").count(), 2, "{}", bed.log("r1"));
}

#[test]
fn expired_and_too_far_ahead_onions_are_refused_by_a_real_router() {
    let mut bed = Bed::new(2, vec![(0, 1)]);
    bed.start_routers(&["--mix-interval", "0s", "--max-onion-lifetime", "1h"]);
    let hops = route(&bed, 2);
    let now = ork::event::Now::system().unix as u32;
    let mut rng = StdRng::from_entropy();
    let mut c = raw_connect(&bed, 0);
    for (aci, expiration) in [(1u16, now - 10), (2, now + 7200), (3, now + 300)] {
        let plan = OnionPlan::random(2, CipherCode::Rc4, CipherCode::Rc4, expiration, &mut rng);
        c.send_onion(aci, &build(&hops, &plan).unwrap());
    }
    let got = c.cells();
    let mut destroyed: Vec<u16> = got.iter().filter(|x| x.command == Command::Destroy).map(|x| x.aci.0).collect();
    destroyed.sort_unstable();
    assert_eq!(destroyed, vec![1, 2], "the expired and the far-ahead onion refused, the fresh one taken: {got:?}");
    let log = bed.log("r1");
    assert!(log.contains("refused onion on ACI 0x0001: expired"), "{log}");
    assert!(log.contains("refused onion on ACI 0x0002: expiration too far ahead"), "{log}");
}
