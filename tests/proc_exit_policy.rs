//! The exit's hardening against real processes (issue 22): RLOGIN's privileged source port only
//! to port 513, by an explicit `proto=rlogin` rule, after a well-formed preamble; the router's
//! own addresses refused by the default exit policy (in a network namespace of the test's own);
//! a private key file others can read refused.

mod procs;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use procs::*;

/// A one-router network (the entry is the exit) and an onion proxy; the exit policy is
/// `policy` (None: the default).
fn one_router(policy: Option<&str>, netns: Option<String>) -> (Bed, u16) {
    let mut bed = Bed::new(1, vec![]);
    bed.netns = netns;
    let mut args = bed.router_args(0, &[]);
    match policy {
        Some(text) => std::fs::write(bed.path("exit-policy.txt"), text).expect("policy"),
        None => {
            let at = args.iter().position(|a| a == "--exit-policy").expect("policy flag");
            args.drain(at..at + 2);
        }
    }
    bed.spawn("r1", &args);
    wait_for("r1 listening", Duration::from_secs(20), || bed.log("r1").contains("listening on"));
    let op = bed.start_onion_proxy("op", &["--hops", "1"]);
    (bed, op)
}

/// A standard structure for `protocol` to host:port, followed by `data`; the status byte.
fn status_of(op: u16, protocol: u8, host: &str, port: u16, data: &[u8]) -> u8 {
    let mut s = TcpStream::connect(("127.0.0.1", op)).expect("connect to onion proxy");
    s.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    let mut st = vec![1u8, protocol, 0, 1];
    st.extend_from_slice(format!("{host}\0{port}\0").as_bytes());
    st.extend_from_slice(data);
    s.write_all(&st).expect("send structure");
    let mut b = [0u8; 1];
    s.read_exact(&mut b).expect("status byte");
    b[0]
}

const PREAMBLE: &[u8] = b"\0bob\0bob\0xterm/38400\0";

#[test]
fn rlogin_is_refused_to_other_ports_without_an_explicit_rule_and_without_a_preamble() {
    // A listener the exit could reach on an unprivileged port: today's exit connected to it
    // from port 1023 with any bytes.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    // The test bed's policy: an explicit rule for 127.0.0.0/8:513 only.
    let (bed, op2) = one_router(Some("accept 127.0.0.0/8:513 proto=rlogin\naccept 127.0.0.0/8:*\n"), None);
    let exploit = b"\0root\0root\0cat /etc/shadow\0";
    assert_eq!(status_of(op2, 1, "127.0.0.1", port, exploit), 6, "protocol 1 to a port other than 513");
    assert_eq!(status_of(op2, 1, "127.0.0.1", port, PREAMBLE), 6, "even with a good preamble");
    assert_eq!(status_of(op2, 1, "127.0.0.1", 513, exploit), 8, "a malformed preamble");
    assert_eq!(status_of(op2, 1, "127.0.0.1", 513, b"\0me\0root\0vt100/9600\0"), 8, "users differ");
    assert_eq!(status_of(op2, 4, "127.0.0.1", port, b""), 0, "other protocols still reach the port");
    listener.set_nonblocking(true).expect("nonblocking");
    while let Ok((s, peer)) = listener.accept() {
        assert!(peer.port() > 1023, "only the protocol-4 connection arrived, unprivileged: {peer}");
        drop(s);
    }
    drop(bed);

    // A policy that accepts everything but names no protocol: RLOGIN is still refused.
    let (_bed, op3) = one_router(Some("accept 127.0.0.0/8:*\n"), None);
    assert_eq!(status_of(op3, 1, "127.0.0.1", 513, PREAMBLE), 6, "513 without an explicit rule");
}

#[test]
fn default_policy_refuses_rlogin() {
    let (_bed, op) = one_router(None, None);
    assert_eq!(status_of(op, 1, "192.0.2.1", 513, PREAMBLE), 6);
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A network namespace of the test's own, with loopback up and carrying 192.0.2.2 too (a
/// documentation address, in none of the default policy's refused ranges); deleted on drop,
/// also on failure. The host's own interfaces are never touched.
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        let name = format!("ork-exit-{}", std::process::id());
        let ns = Netns(name.clone());
        let run = |args: &[&str]| {
            let st = Command::new("ip").args(args).status().expect("run ip");
            assert!(st.success(), "ip {args:?}");
        };
        run(&["netns", "add", &name]);
        for cmd in [&["link", "set", "lo", "up"][..], &["addr", "add", "192.0.2.2/32", "dev", "lo"]] {
            let mut a = vec!["netns", "exec", &name, "ip"];
            a.extend_from_slice(cmd);
            run(&a);
        }
        ns
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "delete", &self.0]).status();
    }
}

/// Inside `ns`: listen on 0.0.0.0:`port`, then ask the onion proxy on `op` for each target with
/// protocol 4 and print the status bytes, space-separated.
fn statuses_in(ns: &str, op: u16, port: u16, targets: &[&str]) -> String {
    let script = format!(
        "import socket, threading\n\
         l = socket.socket(socket.AF_INET6); l.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)\n\
         l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); l.bind(('::', {port})); l.listen(16)\n\
         threading.Thread(target=lambda: [l.accept() for _ in iter(int, 1)], daemon=True).start()\n\
         out = []\n\
         for host in {targets:?}:\n\
         \x20   s = socket.create_connection(('127.0.0.1', {op})); s.settimeout(20)\n\
         \x20   s.sendall(b'\\x01\\x04\\x00\\x01' + host.encode() + b'\\x00{port}\\x00')\n\
         \x20   out.append(str(s.recv(1)[0]))\n\
         print(' '.join(out))\n"
    );
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "python3", "-c", &script])
        .stderr(Stdio::inherit())
        .output()
        .expect("python3 in the namespace");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn default_policy_refuses_the_routers_own_addresses() {
    if !is_root() {
        eprintln!(
            "SKIPPED (LOUDLY): default_policy_refuses_the_routers_own_addresses needs root (a network namespace)"
        );
        return;
    }
    let ns = Netns::new();
    let port = 18_080;
    let targets = ["192.0.2.2", "[::ffff:192.0.2.2]"];
    // With a policy that accepts everything, the service on the exit host is reachable
    // through both spellings (what today's default policy allowed)...
    let (bed, op) = one_router(Some("accept *:*\n"), Some(ns.0.clone()));
    assert_eq!(statuses_in(&ns.0, op, port, &targets), "0 0", "the service is reachable at all");
    drop(bed);
    // ...and the default policy refuses both: the address is the router's own, and
    // IPv4-mapped IPv6 addresses are refused as such.
    let (bed, op) = one_router(None, Some(ns.0.clone()));
    assert_eq!(statuses_in(&ns.0, op, port, &targets), "6 6", "own address refused by default");
    assert!(bed.log("r1").contains("192.0.2.2"), "the router logs the own addresses it refuses");
}

#[test]
fn a_private_key_others_can_read_is_refused() {
    let bed = Bed::new(1, vec![]);
    let key = bed.path("r1.key");
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644)).expect("chmod");
    let args = bed.router_args(0, &[]);
    let out = ork().args(&args).current_dir(bed.dir.path()).output().expect("run ork router");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "exit 2 like a configuration error: {err}");
    assert!(err.contains("r1.key") && err.contains("0644") && err.contains("--allow-open-key"), "{err}");
    // The funnel too.
    let out = ork()
        .args(["funnel", "--listen", "127.0.0.1:1", "--router", "127.0.0.1:1", "--router-key", "r1.pub", "--key"])
        .arg(&key)
        .current_dir(bed.dir.path())
        .output()
        .expect("run ork funnel");
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    // With --allow-open-key the router starts, and warns.
    let mut bed = bed;
    let mut args = bed.router_args(0, &["--allow-open-key"]);
    args.retain(|a| !a.is_empty());
    bed.spawn("r1", &args);
    wait_for("r1 listening", Duration::from_secs(20), || bed.log("r1").contains("listening on"));
    assert!(bed.log("r1").contains("open to others"), "{}", bed.log("r1"));
}
