//! SLOW (about 2 minutes; skip with `cargo test -- --skip slow_`): real `ork` processes — five
//! routers and an onion proxy — keep an idle anonymous connection alive through 105 s of
//! silence on PADDING alone (protocol.md §3 liveness), then carry data both ways.

mod procs;

use std::io::{Read, Write};
use std::time::Duration;

use procs::*;

fn round_trip(s: &mut std::net::TcpStream, line: &[u8]) {
    s.write_all(line).expect("write");
    let mut got = vec![0u8; line.len()];
    s.read_exact(&mut got).expect("echo back");
    assert_eq!(got, line);
}

#[test]
fn slow_idle_connection_survives_105_s_of_silence() {
    let mut bed = Bed::new(5, full_mesh(5));
    bed.start_routers(&[]);
    let echo = echo_server();
    let proxy = bed.start_onion_proxy("op", &["--hops", "5"]);
    let mut s = anon_connect(proxy, "127.0.0.1", echo).expect("status 0");
    s.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    round_trip(&mut s, b"before the silence\n");
    std::thread::sleep(Duration::from_secs(105));
    round_trip(&mut s, b"after 105 s of silence\n");
    for i in 1..=5 {
        let log = bed.log(&format!("r{i}"));
        assert!(!log.contains("link down"), "r{i} lost a link while idle:\n{log}");
    }
    let op = bed.log("op");
    assert_eq!(op.matches("keyed").count(), 1, "the uplink was keyed once, never redialled:\n{op}");
}
