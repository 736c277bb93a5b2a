//! Process tests of the directory on 127.0.0.1: three `ork directory` authorities, routers that
//! upload their descriptors, an onion proxy configured only with the authorities file, and
//! `ork directory show`; authorities and routers killed; forged descriptors refused.

mod procs;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use procs::directory::*;
use procs::*;

#[test]
fn onion_proxy_with_only_the_authorities_file_survives_authorities_and_routers_going() {
    // Six routers, so that five distinct hops remain after one stops.
    let mut bed = Bed::new(6, full_mesh(6));
    let ports = authorities(&bed, 3);
    for (i, &p) in ports.iter().enumerate() {
        start_authority(&mut bed, i, p);
    }
    bed.start_routers(&["--directory", "authorities", "--name", "r{i}", "--publish-interval", "3s"]);
    wait_for("six routers in the document", Duration::from_secs(40), || {
        show(&bed).is_some_and(|v| router_names(&v).len() == 6)
    });
    let doc = show(&bed).expect("show");
    assert!(doc["signed_by"].as_array().map_or(0, Vec::len) >= 2, "a majority signed: {doc}");
    assert_eq!(doc["links"].as_array().map(Vec::len), Some(15), "full mesh of six, both ends declaring");

    let port = free_port();
    let args: Vec<String> =
        ["onion-proxy", "--listen", &format!("127.0.0.1:{port}"), "--directory", "authorities", "--entry", "r1"]
            .iter()
            .map(|s| s.to_string())
            .chain(["--state-dir".to_owned(), "state-op".to_owned(), "--hops".to_owned(), "5".to_owned()])
            .collect();
    bed.spawn("op", &args);
    wait_for("onion proxy uplink", Duration::from_secs(20), || bed.log("op").contains("uplink to"));
    let echo = echo_server();
    assert!(echo_ok(port, echo), "five hops through the directory's network");
    assert!(bed.path("state-op/network-document").exists(), "document cached");

    // One authority down: documents are still signed by two of three and accepted.
    bed.kill("a3");
    let before = show(&bed).expect("show")["valid_after"].as_u64().unwrap_or(0);
    wait_for("a newer document signed by two", Duration::from_secs(30), || {
        show(&bed).is_some_and(|v| {
            v["valid_after"].as_u64() > Some(before) && v["signed_by"].as_array().map(Vec::len) == Some(2)
        })
    });

    // A router stopped is gone within two intervals (plus the client's refresh).
    bed.kill("r5");
    let stopped = Instant::now();
    wait_for("r5 gone", Duration::from_secs(30), || {
        show(&bed).is_some_and(|v| !router_names(&v).contains(&"r5".into()))
    });
    let gone_after = stopped.elapsed();
    eprintln!("r5 left the document {gone_after:?} after it stopped (interval {INTERVAL_SECS}s)");
    assert!(gone_after <= Duration::from_secs(2 * INTERVAL_SECS + 2), "{gone_after:?}");
    wait_for("the onion proxy took the new document", Duration::from_secs(20), || {
        bed.log("op").contains(", 5 routers")
    });
    for _ in 0..5 {
        assert!(echo_ok(port, echo), "routes avoid r5");
    }
    let op = bed.log("op");
    let after = op.split(", 5 routers").last().unwrap_or_default();
    assert!(after.contains("connection to "), "{op}");
    assert!(!after.contains(" r5 ") && !after.contains("> r5"), "no route used r5 after it left: {after}");

    // Two authorities down: the cached document is used until valid-until, then a clear refusal.
    bed.kill("a2");
    assert!(echo_ok(port, echo), "cached document still valid");
    wait_for("document expired", Duration::from_secs(6 * INTERVAL_SECS + 10), || {
        bed.log("op").contains("network document expired")
    });
    // The onion proxy closes an application's connection at once: no routes without a document.
    let mut app = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let _ = app.set_read_timeout(Some(Duration::from_secs(10)));
    let mut byte = [0u8; 1];
    assert!(!matches!(app.read(&mut byte), Ok(1..)), "no status byte once the document expired");
    assert!(bed.log("op").contains("connection refused: the network document expired at"), "{}", bed.log("op"));
    assert!(show(&bed).is_none(), "show refuses too");
}

#[test]
fn forged_descriptors_are_refused_with_the_reason() {
    let mut bed = Bed::new(2, full_mesh(2));
    let ports = authorities(&bed, 1);
    start_authority(&mut bed, 0, ports[0]);
    bed.start_routers(&["--directory", "authorities", "--name", "r{i}", "--publish-interval", "1h"]);
    wait_for("two routers listed", Duration::from_secs(30), || show(&bed).is_some_and(|v| router_names(&v).len() == 2));
    let raw = ork()
        .args(["directory", "show", "--directory", "authorities", "--raw"])
        .current_dir(bed.dir.path())
        .output()
        .expect("show");
    let text = String::from_utf8(raw.stdout).expect("text");
    let mut descs: Vec<String> = Vec::new();
    let mut cur: Option<String> = None;
    for l in text.lines() {
        if l == "ork-router-descriptor 1" {
            cur = Some(String::new());
        }
        if let Some(c) = cur.as_mut() {
            c.push_str(l);
            c.push('\n');
            if l.starts_with("signature ") {
                descs.extend(cur.take());
            }
        }
    }
    assert_eq!(descs.len(), 2);
    let key = |d: &str| d.lines().find(|l| l.starts_with("key ")).expect("key").to_owned();
    // r2's descriptor carrying r1's key: its signature does not verify.
    let wrong_key = descs[1].replace(&key(&descs[1]), &key(&descs[0]));
    let resp = post(ports[0], &wrong_key);
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    assert!(bed
        .log("a1")
        .contains("descriptor refused: malformed or badly signed: router r2: its signature does not verify"));
    // A replayed older descriptor: r1 restarts (a newer descriptor), then its old one comes again.
    bed.kill("r1");
    std::thread::sleep(Duration::from_millis(1100));
    bed.restart("r1");
    wait_for("r1's new descriptor held", Duration::from_secs(20), || {
        bed.log("a1").lines().filter(|l| l.contains("router r1 (") && l.contains("descriptor held")).count() >= 2
    });
    let resp = post(ports[0], &descs[0]);
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    assert!(bed.log("a1").contains("is older than the descriptor held"), "{}", bed.log("a1"));
    // A router (r2, its own key, correctly signed) claiming r1's address: the check at that
    // address meets r1's key. Made with the library from r2's key file.
    let r2_key = ork::crypto::rsa_block::load_private_key(&bed.path("r2.key")).expect("r2 key");
    let claim = ork::directory::Descriptor {
        name: "r2".into(),
        addr: format!("127.0.0.1:{}", bed.ports[0]).parse().expect("addr"),
        key: r2_key.to_public_key(),
        published: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        ciphers: vec![0, 1, 2, 3, 4],
        exit_policy: vec!["accept *:*".into()],
        neighbors: vec![],
    }
    .sign(&r2_key)
    .expect("sign");
    let resp = post(ports[0], &claim.text);
    assert!(resp.starts_with("HTTP/1.1 200"), "accepted for checking: {resp}");
    wait_for("address claim refused", Duration::from_secs(15), || {
        bed.log("a1").contains(&format!(
            "router r2: descriptor refused: its address 127.0.0.1:{}: the address answered with another key",
            bed.ports[0]
        ))
    });
}

/// A man in the middle at the authority's address: it relays `GET /network` to the real
/// authority until it is given a recorded response, which it then serves to every request.
struct Mitm {
    port: u16,
    replay: std::sync::Arc<std::sync::Mutex<Option<Vec<u8>>>>,
}

fn raw_get(port: u16) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect authority");
    s.write_all(b"GET /network HTTP/1.1\r\nHost: a\r\n\r\n").expect("send");
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).expect("read");
    resp
}

impl Mitm {
    fn start(authority: u16) -> Mitm {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let replay: std::sync::Arc<std::sync::Mutex<Option<Vec<u8>>>> = Default::default();
        let shared = replay.clone();
        std::thread::spawn(move || {
            for mut c in listener.incoming().flatten() {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 && matches!(c.read(&mut byte), Ok(1)) {
                    head.push(byte[0]);
                }
                let recorded = shared.lock().map(|r| r.clone()).unwrap_or_default();
                let resp = recorded.unwrap_or_else(|| raw_get(authority));
                let _ = c.write_all(&resp);
            }
        });
        Mitm { port, replay }
    }

    fn replay(&self, response: Vec<u8>) {
        *self.replay.lock().expect("lock") = Some(response);
    }
}

#[test]
fn an_old_document_replayed_by_a_man_in_the_middle_is_refused() {
    let mut bed = Bed::new(3, full_mesh(3));
    let ports = authorities(&bed, 1);
    start_authority(&mut bed, 0, ports[0]);
    bed.start_routers(&["--directory", "authorities", "--name", "r{i}", "--publish-interval", "1h"]);
    wait_for("three routers listed", Duration::from_secs(30), || {
        show(&bed).is_some_and(|v| router_names(&v).len() == 3)
    });
    // Record a genuine, majority-signed document, then wait for a newer one.
    let old = raw_get(ports[0]);
    let old_after = show(&bed).and_then(|v| v["valid_after"].as_u64()).expect("valid_after");
    assert!(String::from_utf8_lossy(&old).contains(&format!("valid-after {old_after}")), "recorded the shown document");
    wait_for("a newer document", Duration::from_secs(20), || {
        show(&bed).is_some_and(|v| v["valid_after"].as_u64() > Some(old_after))
    });
    // The onion proxy reaches the authority only through the man in the middle (the real key).
    let mitm = Mitm::start(ports[0]);
    std::fs::write(bed.path("mitm-authorities"), format!("127.0.0.1:{} a1.pub\n", mitm.port)).expect("write");
    let op = free_port();
    let args: Vec<String> = ["onion-proxy", "--listen", &format!("127.0.0.1:{op}"), "--directory", "mitm-authorities"]
        .iter()
        .chain(&["--entry", "r1", "--hops", "3", "--state-dir", "state-op"])
        .map(|s| s.to_string())
        .collect();
    bed.spawn("op", &args);
    wait_for("onion proxy uplink", Duration::from_secs(20), || bed.log("op").contains("uplink to"));
    mitm.replay(old.clone());
    let refusal = format!("authority 127.0.0.1:{}: network document refused: older than the document already held (valid-after {old_after} <", mitm.port);
    wait_for("the replayed document refused", Duration::from_secs(4 * INTERVAL_SECS + 10), || {
        bed.log("op").contains(&refusal)
    });
    // The onion proxy keeps the newer document it holds, and keeps working.
    let cached = std::fs::read(bed.path("state-op/network-document")).expect("cache");
    assert!(!old.ends_with(&cached), "the replayed document was not cached");
    let echo = echo_server();
    assert!(echo_ok(op, echo), "still routing with the document it holds");
    // Once the old document has expired, a new client started behind the man in the middle
    // refuses it for that reason and does not start.
    let valid_until = old_after + 3 * INTERVAL_SECS;
    while ork::event::Now::system().unix <= valid_until {
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = ork()
        .args(["onion-proxy", "--listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--directory", "mitm-authorities", "--entry", "r1"])
        .current_dir(bed.dir.path())
        .output()
        .expect("run onion proxy");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("network document refused: expired at {valid_until}")), "{err}");
}

#[test]
fn a_document_stripped_to_one_signature_is_refused() {
    let mut bed = Bed::new(2, full_mesh(2));
    let ports = authorities(&bed, 3);
    for (i, &p) in ports.iter().enumerate() {
        start_authority(&mut bed, i, p);
    }
    bed.start_routers(&["--directory", "authorities", "--name", "r{i}", "--publish-interval", "1h"]);
    wait_for("a document signed by all three", Duration::from_secs(40), || {
        show(&bed).is_some_and(|v| router_names(&v).len() == 2 && v["signed_by"].as_array().map(Vec::len) == Some(3))
    });
    // A man in the middle at every authority's address serves the genuine document with all
    // but one signature line removed (the body, and that signature, still verify).
    let resp = raw_get(ports[0]);
    let text = String::from_utf8_lossy(&resp);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).expect("HTTP body");
    // A document's signature lines are `signature FINGERPRINT HEX`; a descriptor's `signature HEX`.
    let authority_signature = |l: &str| l.strip_prefix("signature ").is_some_and(|r| r.contains(' '));
    let first = body.lines().position(authority_signature).expect("a signature line");
    let body: String = body
        .lines()
        .enumerate()
        .filter(|&(i, l)| i <= first || !authority_signature(l))
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    assert_eq!(body.lines().filter(|l| authority_signature(l)).count(), 1, "{body}");
    let stripped = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    let mitms: Vec<Mitm> = (0..3).map(|i| Mitm::start(ports[i])).collect();
    let file: String =
        mitms.iter().enumerate().map(|(i, m)| format!("127.0.0.1:{} a{}.pub\n", m.port, i + 1)).collect();
    std::fs::write(bed.path("mitm-authorities"), file).expect("write");
    for m in &mitms {
        m.replay(stripped.clone().into_bytes());
    }
    let out = ork()
        .args(["directory", "show", "--directory", "mitm-authorities"])
        .current_dir(bed.dir.path())
        .output()
        .expect("run show");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert_eq!(err.matches("network document refused: signed by 1 of the 3 authorities, 2 needed").count(), 3, "{err}");
}
