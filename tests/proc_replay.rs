//! Replay protection across a restart (SPEC §5): an onion captured and sent again is refused,
//! also after the router restarts, because the replay cache lives in --state-dir.

mod procs;

use std::io::{Read, Write};
use std::net::{SocketAddrV4, TcpStream};
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

    bed.kill("r1");
    bed.restart("r1");
    bed.wait_links();
    let mut c = raw_connect(&bed, 0);
    c.send_onion(1, &onion);
    let cells = c.cells();
    assert!(cells.iter().any(|x| x.command == Command::Destroy && x.aci == Aci(1)), "replay after restart: {cells:?}");
    assert_eq!(bed.log("r1").matches("refused onion on ACI").count(), 2, "two refusals logged");
    assert!(bed.log("r1").contains("replayed"));
}
