//! Process tests (issues 3 and 4): real `ork router`, `ork onion-proxy`, `ork funnel` and
//! `ork connect` processes on 127.0.0.1 with real local servers.

mod procs;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};

use procs::*;

fn data(len: usize, seed: u8) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9 ^ u32::from(seed);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Send `payload` through an anonymous connection to an echo server and check it comes back.
fn echo_through(proxy: u16, echo: u16, payload: &[u8]) {
    let mut s = anon_connect(proxy, "127.0.0.1", echo).expect("status 0");
    let mut r = s.try_clone().expect("clone");
    let want = payload.len();
    let reader = std::thread::spawn(move || {
        let mut got = Vec::with_capacity(want);
        r.read_to_end(&mut got).expect("read echo");
        got
    });
    s.write_all(payload).expect("write");
    s.shutdown(Shutdown::Write).expect("half-close");
    let got = reader.join().expect("reader");
    assert_eq!(got.len(), payload.len(), "echoed length");
    assert_eq!(sha256(&got), sha256(payload), "echoed bytes");
}

#[test]
fn five_routers_carry_ten_mib_per_route_length_and_cipher() {
    let mut bed = Bed::new(5, full_mesh(5));
    bed.start_routers(&["--mix-interval", "1ms"]);
    let echo = echo_server();
    let payload = data(10 << 20, 1);
    for cipher in ["none", "des", "rc4", "aes-128-ctr", "chacha20"] {
        let p = bed.start_onion_proxy(&format!("op-{cipher}"), &["--forw", cipher, "--back", cipher]);
        echo_through(p, echo, &payload);
    }
    for hops in 1..=4 {
        let p = bed
            .start_onion_proxy(&format!("op-{hops}"), &["--hops", &hops.to_string(), "--forw", "rc4", "--back", "rc4"]);
        echo_through(p, echo, &payload);
    }
}

#[test]
fn ork_connect_fetches_from_a_real_http_server_and_half_closes() {
    let mut bed = Bed::new(5, full_mesh(5));
    bed.start_routers(&[]);
    let http = free_port();
    std::fs::write(bed.path("page.html"), "<html>hello through five hops</html>").expect("page");
    let mut server = std::process::Command::new("python3")
        .args(["-m", "http.server", &http.to_string(), "--bind", "127.0.0.1"])
        .current_dir(bed.dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 -m http.server (run scripts/test.sh to install python3)");
    wait_for("http server", Duration::from_secs(10), || TcpStream::connect(("127.0.0.1", http)).is_ok());
    let p = bed.start_onion_proxy("op", &[]);
    let mut c = ork()
        .args(["connect", "--onion-proxy", &format!("127.0.0.1:{p}"), "127.0.0.1", &http.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("ork connect");
    // Writing the request and closing stdin half-closes the connection; the full response
    // must still arrive.
    c.stdin.take().expect("stdin").write_all(b"GET /page.html HTTP/1.0\r\n\r\n").expect("request");
    let out = c.wait_with_output().expect("ork connect output");
    let _ = server.kill();
    let _ = server.wait();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "ork connect failed: {text}");
    assert!(text.starts_with("HTTP/1.0 200"), "{text}");
    assert!(text.contains("hello through five hops"), "{text}");
}

#[test]
fn status_codes_reach_the_client() {
    let mut bed = Bed::new(5, full_mesh(5));
    bed.start_routers(&["--mix-interval", "0s"]);
    std::fs::write(bed.path("op-policy.txt"), "reject *:25\naccept *:*\n").expect("policy");
    let p = bed.start_onion_proxy("op", &["--policy", "op-policy.txt", "--hops", "3"]);
    let raw = |bytes: &[u8]| -> u8 {
        let mut s = TcpStream::connect(("127.0.0.1", p)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
        s.write_all(bytes).expect("write");
        let mut b = [9u8; 1];
        s.read_exact(&mut b).expect("status");
        b[0]
    };
    assert_eq!(raw(&[2, 4, 0, 1, b'h', 0, b'1', 0]), 1, "bad version");
    assert_eq!(raw(&[1, 4, 0, 2, b'h', 0, b'1', 0]), 2, "bad address format");
    assert_eq!(raw(&[1, 4, 0, 1, b'a', b' ', b'b', 0, b'1', 0]), 3, "malformed host");
    assert_eq!(raw(&[1, 4, 0, 1, b'h', 0, b'0', 0]), 4, "bad port");
    assert_eq!(raw(&[1, 9, 0, 1, b'h', 0, b'1', 0]), 8, "bad protocol");
    assert_eq!(anon_connect(p, "127.0.0.1", 25).err(), Some(6), "onion proxy policy");
    let closed = free_port();
    assert_eq!(anon_connect(p, "127.0.0.1", closed).err(), Some(5), "destination refused");
    assert_eq!(anon_connect(p, "10.1.2.3", 80).err(), Some(6), "exit policy refuses private addresses");
    // A network file whose entry router has no links cannot give a 2-hop route: the onion proxy
    // refuses to start (exit status 2) rather than answer every connection with status 7.
    std::fs::write(bed.path("lonely.txt"), format!("router r1 127.0.0.1:{} r1.pub\n", bed.ports[0])).expect("net");
    let port = free_port().to_string();
    let out = ork()
        .args(["onion-proxy", "--listen", &port, "--network", "lonely.txt", "--entry", "r1", "--hops", "2"])
        .current_dir(bed.path(""))
        .output()
        .expect("run ork onion-proxy");
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("no route of 2 distinct routers starts at r1") && said.contains("--hops 1 to 1"), "{said}");
}

#[test]
fn hundred_concurrent_connections_stay_intact() {
    let mut bed = Bed::new(5, full_mesh(5));
    bed.start_routers(&[]);
    let echo = echo_server();
    let p = bed.start_onion_proxy("op", &["--forw", "rc4", "--back", "rc4"]);
    let threads: Vec<_> =
        (0..100u8).map(|i| std::thread::spawn(move || echo_through(p, echo, &data(64 * 1024, i)))).collect();
    for t in threads {
        t.join().expect("connection intact");
    }
}

#[test]
fn middle_router_death_closes_both_ends_and_restart_relinks() {
    // A ring forces every 5-hop route through r3.
    let ring = vec![(0, 1), (1, 2), (2, 3), (3, 4), (4, 0)];
    let mut bed = Bed::new(5, ring);
    bed.start_routers(&[]);
    let dest = std::net::TcpListener::bind("127.0.0.1:0").expect("dest");
    let dport = dest.local_addr().expect("addr").port();
    let p = bed.start_onion_proxy("op", &[]);
    let mut client = anon_connect(p, "127.0.0.1", dport).expect("status 0");
    let (mut server_side, _) = dest.accept().expect("exit connected");
    client.write_all(b"ping").expect("write");
    let mut b = [0u8; 4];
    server_side.read_exact(&mut b).expect("read ping");
    assert_eq!(&b, b"ping");
    bed.kill("r3");
    let start = Instant::now();
    server_side.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    client.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let mut sink = Vec::new();
    assert!(server_side.read_to_end(&mut sink).is_ok(), "destination side closed");
    assert!(client.read_to_end(&mut sink).is_ok(), "client side closed");
    assert!(start.elapsed() < Duration::from_secs(2), "both ends closed within 2 s: {:?}", start.elapsed());
    bed.restart("r3");
    bed.wait_links();
    let mut c2 = anon_connect(p, "127.0.0.1", dport).expect("new connection through restarted r3");
    c2.write_all(b"again").expect("write");
}

#[test]
fn garbage_and_an_impostor_are_refused_without_disturbing_others() {
    let mut bed = Bed::new(3, full_mesh(3));
    bed.start_routers(&[]);
    let echo = echo_server();
    let p = bed.start_onion_proxy("op", &["--hops", "3"]);
    let mut live = anon_connect(p, "127.0.0.1", echo).expect("live connection");
    // Garbage on every router's port, while the connection is live.
    for port in bed.ports.clone() {
        let mut g = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        g.write_all(&data(5000, 9)).expect("garbage");
        let _ = g.shutdown(Shutdown::Write);
    }
    wait_for("garbage logged", Duration::from_secs(5), || bed.log("r1").contains("handshake with"));
    live.write_all(b"still here").expect("write");
    let mut b = [0u8; 10];
    live.read_exact(&mut b).expect("echo after garbage");
    assert_eq!(&b, b"still here");
    // An impostor: r3's address and neighbours, but a key of its own. It dials its
    // neighbours at start (wake-ups or cell links) and r2 dials it after r2 restarts, so it is
    // refused both as dialler (message 3) and as listener (message 2), whatever the ports' order.
    bed.kill("r3");
    let st = ork().arg("keygen").arg("--out").arg(bed.path("evil")).stdout(Stdio::null()).status().expect("keygen");
    assert!(st.success());
    let r3 = format!("link up: router 127.0.0.1:{}", bed.ports[2]);
    let links_to_r3 = |bed: &Bed| bed.log("r1").matches(&r3).count() + bed.log("r2").matches(&r3).count();
    let before = links_to_r3(&bed);
    let mut args = bed.router_args(2, &[]);
    let k = args.iter().position(|a| a == "--key").expect("--key");
    args[k + 1] = "evil.key".into();
    bed.spawn("impostor", &args);
    let both = |bed: &Bed| bed.log("r1") + &bed.log("r2");
    wait_for("impostor refused as dialler", Duration::from_secs(20), || {
        both(&bed).contains("STS message 3: bad signature")
    });
    bed.kill("r2");
    bed.restart("r2");
    wait_for("impostor refused as listener", Duration::from_secs(30), || {
        both(&bed).contains("STS message 2: bad signature")
    });
    assert_eq!(links_to_r3(&bed), before, "an honest router accepted the impostor");
}

#[test]
fn customer_isp_funnel_carries_connections() {
    let mut bed = Bed::new(5, full_mesh(5));
    bed.start_routers(&[]);
    let echo = echo_server();
    let st = ork().arg("keygen").arg("--out").arg(bed.path("funnel")).status().expect("keygen");
    assert!(st.success());
    let fport = free_port();
    let args: Vec<String> = [
        "funnel",
        "--listen",
        &format!("127.0.0.1:{fport}"),
        "--router",
        &format!("127.0.0.1:{}", bed.ports[0]),
        "--router-key",
        "r1.pub",
        "--key",
        "funnel.key",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    bed.spawn("funnel", &args);
    wait_for("funnel uplink", Duration::from_secs(20), || bed.log("funnel").contains("uplink to"));
    let via = format!("127.0.0.1:{fport}=funnel.pub");
    let p1 = bed.start_onion_proxy("op1", &["--via", &via]);
    let p2 = bed.start_onion_proxy("op2", &["--via", &via, "--forw", "des", "--back", "des"]);
    let a = std::thread::spawn(move || echo_through(p1, echo, &data(2 << 20, 3)));
    echo_through(p2, echo, &data(2 << 20, 4));
    a.join().expect("first client through the funnel");
}

#[test]
fn sigterm_shuts_a_router_down_cleanly() {
    let ring = vec![(0, 1), (1, 2), (2, 3), (3, 4), (4, 0)];
    let mut bed = Bed::new(5, ring);
    bed.start_routers(&[]);
    let echo = echo_server();
    let p = bed.start_onion_proxy("op", &[]);
    let mut c = anon_connect(p, "127.0.0.1", echo).expect("connection through r3");
    let i = bed.proc_index("r3");
    let pid = bed.procs[i].child.id() as libc::pid_t;
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let start = Instant::now();
    let status = loop {
        if let Some(st) = bed.procs[i].child.try_wait().expect("wait") {
            break st;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "router did not exit on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status {status}");
    c.set_read_timeout(Some(Duration::from_secs(3))).expect("timeout");
    let mut rest = Vec::new();
    assert!(c.read_to_end(&mut rest).is_ok(), "the connection was closed, not left hanging");
    assert!(bed.log("r3").contains("shutting down: destroying 1 connection(s)"), "{}", bed.log("r3"));
}

#[test]
fn status_file_shows_links_and_counters_but_no_connection_maps() {
    let mut bed = Bed::new(3, full_mesh(3));
    for i in 0..3 {
        let args = bed.router_args(i, &["--status-file", &format!("r{}.status", i + 1)]);
        bed.spawn(&format!("r{}", i + 1), &args);
    }
    bed.wait_links();
    let echo = echo_server();
    let p = bed.start_onion_proxy("op", &["--hops", "3"]);
    echo_through(p, echo, &data(100_000, 5));
    let status = bed.path("r1.status");
    wait_for("status file", Duration::from_secs(5), || status.exists());
    std::thread::sleep(Duration::from_millis(1200));
    let out = ork().arg("status").arg(&status).output().expect("ork status");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(&format!("router 127.0.0.1:{}", bed.ports[0])), "{text}");
    assert_eq!(text.matches("  link router").count(), 2, "{text}");
    assert!(text.contains("link anonymous client"), "{text}");
    assert!(text.contains("onions peeled 1"), "{text}");
    let json = ork().args(["status", "--json"]).arg(&status).output().expect("ork status --json");
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    let mut keys: Vec<&str> = v.as_object().expect("object").keys().map(|k| k.as_str()).collect();
    keys.sort_unstable();
    let want = [
        "aci_slots",
        "awaiting_destroy_ack",
        "connections",
        "identity",
        "links",
        "mixer_queue",
        "neighbors",
        "pid",
        "replay_cache",
        "stats",
        "written_unix",
    ];
    assert_eq!(keys, want, "only aggregate fields and when and by whom written, no connection maps");
    for l in v["links"].as_array().expect("links") {
        let mut fields: Vec<&str> = l.as_object().expect("link").keys().map(|k| k.as_str()).collect();
        fields.sort_unstable();
        let want = ["cells_in", "cells_out", "peer", "queued_cells", "unwritten_bytes", "up_for_secs", "up_since_unix"];
        assert_eq!(fields, want, "peer, uptime, counters and queue depth per link: {l}");
    }
    assert!(text.contains("queued 0 cell(s), 0 byte(s) unwritten"), "queue depth of an idle link: {text}");
}
