//! Hostile peers against real router processes (issue 8): a bit flipped in a cell header on one
//! link, and a keyed client flooding a router with CREATEs that never complete, DATA for unknown
//! ACIs and DESTROYs for unknown ACIs — while a legitimate connection runs beside them.

mod procs;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ork::wire::{Aci, Cell, Command};
use procs::*;
use rand::SeedableRng;

/// STS message 1 of an anonymous client: 6-byte identity and a 128-byte DH value.
const CLIENT_HANDSHAKE: usize = 134;

/// Relay 127.0.0.1:(returned port) to `to`; once `armed`, flip the high bit of the command
/// byte of the next cell the client sends (the cell can then only decode to an unknown command).
fn flipping_relay(to: u16, armed: Arc<AtomicBool>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind relay");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for client in l.incoming().flatten() {
            let router = TcpStream::connect(("127.0.0.1", to)).expect("relay to router");
            let (mut c_in, mut r_out) = (client.try_clone().expect("clone"), router.try_clone().expect("clone"));
            let armed = Arc::clone(&armed);
            std::thread::spawn(move || {
                let (mut sent, mut flipped) = (0usize, false);
                let mut buf = vec![0u8; 64 << 10];
                while let Ok(n) = c_in.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if armed.load(Ordering::SeqCst) && !flipped && sent + n > CLIENT_HANDSHAKE {
                        let first = sent.max(CLIENT_HANDSHAKE);
                        let cell_start = CLIENT_HANDSHAKE + (first - CLIENT_HANDSHAKE).div_ceil(48) * 48;
                        if cell_start + 2 < sent + n {
                            buf[cell_start + 2 - sent] ^= 0x80;
                            flipped = true;
                        }
                    }
                    if r_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    sent += n;
                }
                let _ = r_out.shutdown(Shutdown::Write);
            });
            let (mut r_in, mut c_out) = (router, client);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut r_in, &mut c_out);
                let _ = c_out.shutdown(Shutdown::Both);
            });
        }
    });
    port
}

/// Echo `len` bytes through a connection; returns bytes/second, checking they came back intact.
fn echo_through(op: u16, echo: u16, len: usize, seed: u32) -> f64 {
    let data = pattern(len, seed);
    let start = Instant::now();
    let mut s = anon_connect(op, "127.0.0.1", echo).expect("legitimate connection");
    s.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    let mut w = s.try_clone().expect("clone");
    let sent = data.clone();
    let writer = std::thread::spawn(move || {
        w.write_all(&sent).expect("send");
        w.shutdown(Shutdown::Write).expect("half-close");
    });
    let mut back = Vec::new();
    s.read_to_end(&mut back).expect("echo");
    writer.join().expect("writer");
    assert_eq!(sha256(&back), sha256(&data), "legitimate connection intact");
    len as f64 / start.elapsed().as_secs_f64()
}

#[test]
fn bit_flip_in_a_cell_header_closes_that_link_and_nothing_else() {
    let mut bed = Bed::new(5, full_mesh(5));
    bed.start_routers(&[]);
    let echo = echo_server();
    let op = bed.start_onion_proxy("op", &[]);
    // A second onion proxy reaches r1 through the flipping relay.
    let armed = Arc::new(AtomicBool::new(false));
    let relay = flipping_relay(bed.ports[0], Arc::clone(&armed));
    let net = std::fs::read_to_string(bed.path("network.txt")).expect("network");
    let bad = net.replace(&format!("127.0.0.1:{} r1.pub", bed.ports[0]), &format!("127.0.0.1:{relay} r1.pub"));
    std::fs::write(bed.path("network-bad.txt"), bad).expect("write");
    let op_bad = free_port();
    let args: Vec<String> =
        ["onion-proxy", "--listen", &format!("127.0.0.1:{op_bad}"), "--network", "network-bad.txt", "--entry", "r1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    bed.spawn("op-bad", &args);
    wait_for("op-bad uplink", Duration::from_secs(20), || bed.log("op-bad").contains("keyed"));

    let mut victims: Vec<TcpStream> =
        (0..3).map(|_| anon_connect(op_bad, "127.0.0.1", echo).expect("victim")).collect();
    for v in &mut victims {
        v.write_all(b"hello").expect("hello");
        let mut b = [0u8; 5];
        v.read_exact(&mut b).expect("echo before the flip");
    }
    let good = std::thread::spawn(move || echo_through(op, echo, 4 << 20, 1));
    std::thread::sleep(Duration::from_millis(200));
    armed.store(true, Ordering::SeqCst);
    let flipped_at = Instant::now();
    victims[0].write_all(b"this cell's header gets a flipped bit").expect("send");
    for v in &mut victims {
        v.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        let mut rest = Vec::new();
        let r = v.read_to_end(&mut rest);
        assert!(r.is_ok() || flipped_at.elapsed() < Duration::from_secs(5), "victim closed, not hung: {r:?}");
    }
    let closed_after = flipped_at.elapsed();
    assert!(closed_after < Duration::from_secs(5), "every connection on the broken link closed within 5 s");
    let good_rate = good.join().expect("the legitimate connection through the other link completes");
    eprintln!(
        "bit flip: the {} connections on the broken link closed {} ms after it; a 4 MiB echo on another \
         link completed at {:.1} MB/s",
        victims.len(),
        closed_after.as_millis(),
        good_rate / 1e6
    );
    wait_for("r1 logs the broken link", Duration::from_secs(5), || bed.log("r1").contains("unknown cell command"));
    assert_eq!(bed.links_up("r1"), 4, "r1 keeps its router links");
    // The clean onion proxy still gets new connections through r1.
    echo_through(op, echo, 64 << 10, 2);
}

/// A keyed anonymous client of r1 that floods it.
fn flooder(bed: &Bed) -> (TcpStream, ork::link::LinkCodec) {
    let key = ork::crypto::rsa_block::load_public_key(&bed.path("r1.pub")).expect("r1.pub");
    let addr = std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, bed.ports[0]);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let (mut hs, msg1) = ork::link::Dialler::new(None, addr, key, &mut rng).expect("dialler");
    let mut s = TcpStream::connect(addr).expect("connect r1");
    s.write_all(&msg1).expect("msg1");
    let mut msg2 = vec![0u8; 256];
    s.read_exact(&mut msg2).expect("msg2");
    let p = hs.read(&msg2).expect("handshake");
    (s, p.established.expect("keyed").codec)
}

#[test]
fn floods_of_hostile_cells_leave_a_legitimate_connection_alone() {
    let mut bed = Bed::new(3, full_mesh(3));
    bed.start_routers(&[]);
    let echo = echo_server();
    let op = bed.start_onion_proxy("op", &["--hops", "3"]);
    let before = echo_through(op, echo, 4 << 20, 3);
    let r1 = bed.procs[bed.proc_index("r1")].child.id();
    let rss_before = rss_kib(r1);

    let (mut s, mut codec) = flooder(&bed);
    let stop = Arc::new(AtomicBool::new(false));
    let flooding = {
        let stop = Arc::clone(&stop);
        let mut reader = s.try_clone().expect("clone");
        std::thread::spawn(move || {
            // Drain what r1 answers (DESTROYs) so that it never blocks on us.
            std::thread::spawn(move || {
                let mut sink = vec![0u8; 1 << 16];
                while matches!(reader.read(&mut sink), Ok(n) if n > 0) {}
            });
            let mut rng = rand::rngs::StdRng::seed_from_u64(8);
            let mut rounds = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let mut cells = Vec::new();
                for i in 0..3000u16 {
                    let aci = Aci(1 + ((rounds * 3000 + i as u64) % 0x7ffe) as u16);
                    cells.push(Cell::with_data(aci, Command::Create, &[0x55; 44], &mut rng).expect("cell"));
                    cells.push(Cell::random_body(Aci(aci.0 ^ 0x2a2a), Command::Data, &mut rng));
                    cells.push(Cell::destroy(Aci(aci.0 ^ 0x1515), &mut rng));
                }
                let mut out = Vec::new();
                codec.encode_all(&cells, &mut out);
                if s.write_all(&out).is_err() {
                    break;
                }
                rounds += 1;
            }
            rounds
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let during = echo_through(op, echo, 4 << 20, 4);
    stop.store(true, Ordering::SeqCst);
    let rounds = flooding.join().expect("flooder");
    let rss_after = rss_kib(r1);
    eprintln!(
        "flood: {rounds} rounds of 9000 hostile cells; legitimate 4 MiB echo {:.1} MB/s before, {:.1} MB/s during \
         ({:.2}x); r1 RSS {} -> {} KiB",
        before / 1e6,
        during / 1e6,
        during / before,
        rss_before,
        rss_after
    );
    assert!(rounds >= 2, "the flood ran");
    assert!(during > 0.2 * before, "legitimate throughput kept: {:.2}x", during / before);
    assert!(rss_after < rss_before + 64 * 1024, "r1's memory stays bounded: {rss_before} -> {rss_after} KiB");
    // Partial CREATEs time out (10 s) and are counted; r1 stays up.
    wait_for("CREATE timeouts", Duration::from_secs(20), || bed.log("r1").contains("CREATE never completed"));
    // Hundreds of thousands of refusals, a bounded number of log lines (20 per reason per minute).
    let lines = bed.log("r1").matches("refused onion on ACI").count();
    assert!((2..=60).contains(&lines), "refusal lines rate-limited: {lines}");
    echo_through(op, echo, 64 << 10, 5);
}
