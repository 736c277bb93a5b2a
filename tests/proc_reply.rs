//! Reply onions with real processes (docs/reply-onions.md): five routers, an owner whose onion
//! proxies serve a local HTTP server (Python's http.server) and a private sshd only through
//! reply endpoints, and a user who reaches both with `ork connect --reply-onion` — plain
//! requests through the user's own route (protocol 6), ssh through ProxyCommand, and directly
//! when h1 is the user's entry router. Bodies are compared by SHA-256; a reply line used twice
//! gets nothing the second time.

mod procs;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use procs::sshd::*;
use procs::*;

/// `python3 -m http.server` on a free loopback port serving `dir`.
fn http_server(dir: &std::path::Path) -> (Killer, u16) {
    need("python3");
    let port = free_port();
    let child: Child = Command::new("python3")
        .args(["-m", "http.server", "--bind", "127.0.0.1", &port.to_string()])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 -m http.server");
    let k = Killer(vec![child]);
    wait_port(port);
    (k, port)
}

/// Make `count` reply onions towards `endpoint` with records in `state` and lines in `out`.
fn mkonion(bed: &Bed, endpoint: u16, state: &str, out: &str, count: usize) {
    let st = ork()
        .current_dir(bed.dir.path())
        .args(["mkonion", "reply", "--network", "network.txt", "--hops", "3", "--count", &count.to_string()])
        .args(["--endpoint", &format!("127.0.0.1:{endpoint}"), "--state-dir", state, "-o", out])
        .stdout(Stdio::null())
        .status()
        .expect("ork mkonion reply");
    assert!(st.success(), "mkonion reply");
}

/// An owner's onion proxy whose reply endpoint relays to `service`; returns the endpoint's port.
fn owner(bed: &mut Bed, name: &str, state: &str, service: u16) -> u16 {
    let endpoint = free_port();
    let listen = format!("127.0.0.1:{endpoint}");
    let to = format!("127.0.0.1:{service}");
    std::fs::create_dir_all(bed.path(state)).expect("state dir");
    bed.start_onion_proxy(name, &["--reply-listen", &listen, "--reply-to", &to, "--state-dir", state]);
    wait_port(endpoint);
    endpoint
}

/// `ork connect --reply-onion FILE` with `input` on stdin; (success, stdout, stderr).
fn connect(bed: &Bed, op: u16, file: &str, direct: bool, input: &[u8]) -> (bool, Vec<u8>, String) {
    let mut cmd = ork();
    cmd.current_dir(bed.dir.path()).args([
        "connect",
        "--onion-proxy",
        &format!("127.0.0.1:{op}"),
        "--reply-onion",
        file,
    ]);
    if direct {
        cmd.arg("--direct");
    }
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("connect");
    child.stdin.take().expect("stdin").write_all(input).expect("request");
    let out = child.wait_with_output().expect("connect output");
    (out.status.success(), out.stdout, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn body(response: &[u8]) -> &[u8] {
    let at = response.windows(4).position(|w| w == b"\r\n\r\n").expect("HTTP header end");
    &response[at + 4..]
}

#[test]
fn http_and_ssh_through_reply_onions() {
    let mut bed = Bed::new(5, full_mesh(5));
    bed.start_routers(&[]);
    // The service: 300 kB of random bytes.
    let www = bed.path("www");
    std::fs::create_dir(&www).unwrap();
    let file = pattern(300_000, 7);
    std::fs::write(www.join("file.bin"), &file).unwrap();
    let (_http, http_port) = http_server(&www);
    // The owner: one onion proxy per service, each with its records.
    let ep_http = owner(&mut bed, "owner-http", "owner-http", http_port);
    mkonion(&bed, ep_http, "owner-http", "http.txt", 20);
    let user = bed.start_onion_proxy("user", &[]);
    let request = b"GET /file.bin HTTP/1.0\r\nHost: anonymous\r\n\r\n";
    for i in 0..2 {
        let (ok, out, err) = connect(&bed, user, "http.txt", false, request);
        assert!(ok, "connect {i}: {err}");
        assert_eq!(sha256(body(&out)), sha256(&file), "HTTP body {i} through protocol 6");
    }
    assert!(bed.log("owner-http").contains("used: connecting to the service"));
    // Direct: keep only lines whose h1 is the user's entry r1.
    let r1 = format!("REPLY 127.0.0.1:{} ", bed.ports[0]);
    let lines = std::fs::read_to_string(bed.path("http.txt")).unwrap();
    let direct: String = lines.lines().filter(|l| l.starts_with(&r1)).map(|l| format!("{l}\n")).collect();
    assert!(!direct.is_empty(), "some of 20 routes start at r1");
    std::fs::write(bed.path("direct.txt"), &direct).unwrap();
    let (ok, out, err) = connect(&bed, user, "direct.txt", true, request);
    assert!(ok, "direct: {err}");
    assert_eq!(sha256(body(&out)), sha256(&file), "HTTP body, direct");
    // The same line twice: the second connection gets nothing (routers refuse the replay).
    let used = direct.lines().next().unwrap();
    std::fs::write(bed.path("again.txt"), format!("{used}\n")).unwrap();
    let (_, out, _) = connect(&bed, user, "again.txt", true, request);
    assert!(out.is_empty(), "a used reply onion opens nothing");
    // A line whose h1 is not r1 with --direct: usage error.
    let other = lines.lines().find(|l| !l.starts_with(&r1) && !l.starts_with('#')).unwrap();
    std::fs::write(bed.path("other.txt"), format!("{other}\n")).unwrap();
    let mut cmd = ork();
    let st = cmd
        .current_dir(bed.dir.path())
        .args(["connect", "--onion-proxy", &format!("127.0.0.1:{user}"), "--reply-onion", "other.txt", "--direct"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(2), "{}", String::from_utf8_lossy(&st.stderr));

    // SSH: a private sshd reached only through reply onions.
    let d = sshd(bed.dir.path());
    let ep_ssh = owner(&mut bed, "owner-ssh", "owner-ssh", d.port);
    mkonion(&bed, ep_ssh, "owner-ssh", "ssh.txt", 3);
    let proxy = format!(
        "{} connect --onion-proxy 127.0.0.1:{user} --reply-onion {}",
        env!("CARGO_BIN_EXE_ork"),
        bed.path("ssh.txt").display()
    );
    let (ok, text) = ssh(&d, &proxy);
    assert!(ok && text.contains("ORK_42"), "ssh through a reply onion: {text}");
    let routes =
        bed.log("user").lines().filter(|l| l.contains("connection to 127.0.0.1:") && l.contains(" via ")).count();
    assert!(routes >= 3, "the user's routes to h1 are in its debug log");
    eprintln!("HTTP (protocol 6 twice, direct once) and ssh through reply onions; endpoints {ep_http}, {ep_ssh}");
    std::thread::sleep(Duration::from_millis(100));
}
