//! An operator's surprises (issue 19), run against the built `ork` binary: every input file has
//! a size limit, a router refuses itself as a neighbour, an impossible `--hops` is refused at
//! start, the status file tells a live router from a stopped one, `ork connect` times out its
//! set-up and names what it reached, `--config` paths follow the file, exit status 2 for any
//! usage or input-file problem and 1 for runtime failures, in one error style.

mod procs;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use procs::{free_port, wait_for};

const ORK: &str = env!("CARGO_BIN_EXE_ork");

fn ork_in(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(ORK)
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("run the ork binary");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "ork {args:?} panicked:\n{stderr}");
    out
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// Run ork in `dir`, require exit status `code`, return stdout + stderr.
fn expect(dir: &Path, args: &[&str], code: i32) -> String {
    let out = ork_in(dir, args);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(code), "ork {args:?}: {said}");
    said
}

/// A directory with key pairs r1 and r2 from `ork keygen -o`.
fn keyed_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["r1", "r2"] {
        expect(dir.path(), &["keygen", "-o", name], 0);
    }
    dir
}

#[test]
fn every_input_file_has_a_size_limit() {
    let dir = keyed_dir();
    let d = dir.path();
    std::fs::write(d.join("empty.neighbors"), "").expect("write");
    let cases: [&[&str]; 8] = [
        &["router", "--key", "/dev/zero", "--allow-open-key", "--neighbors", "empty.neighbors"],
        &["router", "--key", "r1.key", "--neighbors", "/dev/zero"],
        &["router", "--key", "r1.key", "--neighbors", "empty.neighbors", "--exit-policy", "/dev/zero"],
        &["mkonion", "peel", "--key", "r1.key", "/dev/zero"],
        &["mkonion", "build", "--hop", "127.0.0.1:9001=/dev/zero", "-o", "o.bin"],
        &["onion-proxy", "--network", "/dev/zero", "--entry", "r1"],
        &["status", "/dev/zero"],
        &["router", "--config", "/dev/zero"],
    ];
    for args in cases {
        let started = Instant::now();
        let said = expect(d, args, 2);
        assert!(said.contains("larger than") && said.contains("/dev/zero"), "{args:?}: {said}");
        assert!(said.lines().any(|l| l.starts_with("ork: error: ")), "one error style: {said}");
        assert!(started.elapsed() < Duration::from_secs(20), "{args:?} read without bound");
    }
}

#[test]
fn a_router_refuses_its_own_address_as_a_neighbour() {
    let dir = keyed_dir();
    let port = free_port();
    std::fs::write(dir.path().join("r1.neighbors"), format!("127.0.0.1:{port} r1.pub\n")).expect("write");
    let listen = format!("127.0.0.1:{port}");
    let said =
        expect(dir.path(), &["router", "--listen", &listen, "--key", "r1.key", "--neighbors", "r1.neighbors"], 2);
    assert!(said.contains(&format!("neighbour {listen} is this router's own address")), "{said}");
}

#[test]
fn an_impossible_route_length_is_refused_at_start() {
    let dir = keyed_dir();
    let net = "router r1 127.0.0.1:9001 r1.pub\nrouter r2 127.0.0.1:9002 r2.pub\nlink r1 r2\n";
    std::fs::write(dir.path().join("network.txt"), net).expect("write");
    let listen = free_port().to_string();
    let args = ["onion-proxy", "--listen", &listen, "--network", "network.txt", "--entry", "r1", "--hops", "5"];
    let said = expect(dir.path(), &args, 2);
    assert!(said.contains("--hops 5: no route of 5 distinct routers starts at r1"), "{said}");
    assert!(said.contains("possible: --hops 1 to 2"), "{said}");
}

/// A router with a status file: `ork status` says it runs; a clean stop removes the file; after
/// `kill -9` the file stays and `ork status` says the router is not running (exit status 1).
#[test]
fn status_file_tells_a_running_router_from_a_stopped_one() {
    let dir = keyed_dir();
    let d = dir.path();
    std::fs::write(d.join("r1.neighbors"), "").expect("write");
    let start = || {
        let port = free_port().to_string();
        let args = ["router", "--listen", &port, "--key", "r1.key", "--neighbors", "r1.neighbors"];
        Command::new(ORK)
            .args(args)
            .args(["--status-file", "r1.status"])
            .current_dir(d)
            .stderr(Stdio::null())
            .spawn()
            .expect("start router")
    };
    let status = d.join("r1.status");
    let mut router = start();
    wait_for("the status file", Duration::from_secs(15), || status.exists());
    let said = expect(d, &["status", "r1.status"], 0);
    assert!(said.contains("s ago by the running router (pid"), "{said}");
    let json: serde_json::Value =
        serde_json::from_str(&expect(d, &["status", "--json", "r1.status"], 0)).expect("json");
    assert!(json["written_unix"].as_u64().is_some_and(|t| t > 1_700_000_000), "write time in the file: {json}");

    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(router.id() as libc::pid_t, libc::SIGTERM) };
    assert!(router.wait().expect("wait").success(), "clean shutdown");
    assert!(!status.exists(), "a clean shutdown removes the status file");
    let said = expect(d, &["status", "r1.status"], 2);
    assert!(said.contains("the router is not running"), "{said}");

    let mut router = start();
    wait_for("the status file", Duration::from_secs(15), || status.exists());
    router.kill().expect("kill -9");
    router.wait().expect("wait");
    let said = expect(d, &["status", "r1.status"], 1);
    assert!(said.contains("NOT RUNNING: written") && said.contains("last snapshot"), "{said}");
    assert!(said.contains("neighbour link(s)"), "the last snapshot is still shown: {said}");
}

#[test]
fn connect_times_out_its_set_up_and_names_what_it_reached() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A server that accepts and stays silent.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let proxy = silent.local_addr().expect("addr").to_string();
    let started = Instant::now();
    let said = expect(dir.path(), &["connect", "--onion-proxy", &proxy, "--timeout", "1s", "example.org", "80"], 1);
    assert!(said.contains("no answer from") && said.contains("--timeout"), "{said}");
    assert!(started.elapsed() < Duration::from_secs(15), "gave up after about 1 s");
    drop(silent);

    // Something that is not an onion proxy: an SSH-like greeting.
    let ssh = TcpListener::bind("127.0.0.1:0").expect("bind");
    let proxy = ssh.local_addr().expect("addr").to_string();
    let server = std::thread::spawn(move || {
        let (mut s, _) = ssh.accept().expect("accept");
        s.write_all(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n").expect("greet");
        let mut sink = [0u8; 64];
        let _ = s.read(&mut sink);
    });
    let said = expect(dir.path(), &["connect", "--onion-proxy", &proxy, "example.org", "80"], 1);
    assert!(said.contains("is not an onion proxy (probably an SSH server)"), "{said}");
    assert!(said.contains("SSH-2.0-OpenSSH_9.2p1"), "{said}");
    assert!(!said.contains("unknown status byte"), "{said}");
    server.join().expect("server");
}

#[test]
fn config_file_paths_are_relative_to_the_file() {
    let dir = keyed_dir();
    let conf = dir.path().join("conf");
    std::fs::create_dir(&conf).expect("mkdir");
    std::fs::rename(dir.path().join("r1.pub"), conf.join("r1.pub")).expect("move key");
    std::fs::write(conf.join("ork.toml"), "[mkonion.build]\nhop = [\"127.0.0.1:9001=r1.pub\"]\nout = \"onion.bin\"\n")
        .expect("write config");
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let cfg = conf.join("ork.toml").display().to_string();
    expect(elsewhere.path(), &["mkonion", "build", "--config", &cfg], 0);
    assert!(conf.join("onion.bin").exists(), "out = \"onion.bin\" is written beside the config file");
    assert!(!elsewhere.path().join("onion.bin").exists());
}

#[test]
fn exit_status_2_for_usage_and_input_files_1_for_runtime() {
    let dir = keyed_dir();
    let d = dir.path();
    // Input files the user named: missing or malformed, status 2.
    expect(d, &["mkonion", "peel", "--key", "r1.key", "missing.bin"], 2);
    std::fs::write(d.join("short.bin"), [0u8; 10]).expect("write");
    let said = expect(d, &["mkonion", "show", "--key", "r1.key", "short.bin"], 2);
    assert!(said.contains("10 bytes; an onion is exactly 240"), "{said}");
    expect(d, &["router", "--key", "missing.key", "--neighbors", "n"], 2);
    expect(d, &["status", "missing.status"], 2);
    std::fs::write(d.join("bad.status"), "{ not json").expect("write");
    expect(d, &["status", "bad.status"], 2);
    // Usage errors: clap's, in ork's style.
    let said = expect(d, &["router"], 2);
    assert!(said.starts_with("ork: error: the following required arguments were not provided: --key <KEY>"), "{said}");
    assert!(said.contains("ork: usage: ork router --key <KEY>"), "{said}");
    // --neighbors may be left out only with --directory.
    let said = expect(d, &["router", "--key", "r1.key"], 2);
    assert!(said.contains("--neighbors FILE is required (it may be left out only with --directory"), "{said}");
    assert!(!said.contains("\nerror:") && !said.starts_with("error:"), "no second error style: {said}");
    let said = expect(d, &["router", "--kee", "x"], 2);
    assert!(said.contains("ork: tip: a similar argument exists: '--key'"), "{said}");
    // Help is not an error.
    expect(d, &["router", "--help"], 0);
    // Runtime failure: nothing listens there.
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = closed.local_addr().expect("addr").to_string();
    drop(closed);
    let said = expect(d, &["connect", "--onion-proxy", &addr, "example.org", "80"], 1);
    assert!(said.starts_with("ork: error: cannot reach the onion proxy"), "{said}");
}

#[test]
fn a_pasted_ed25519_key_is_not_an_rsa_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let made =
        Command::new("openssl").args(["genpkey", "-algorithm", "ed25519", "-out"]).arg(d.join("ed.key")).status();
    assert!(made.map(|s| s.success()).unwrap_or(false), "openssl genpkey (run scripts/test.sh to install openssl)");
    let made = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(d.join("ed.key"))
        .arg("-out")
        .arg(d.join("ed.pub"))
        .status();
    assert!(made.map(|s| s.success()).unwrap_or(false), "openssl pkey -pubout");
    std::fs::write(d.join("n"), "").expect("write");
    let said = expect(d, &["router", "--key", "ed.key", "--neighbors", "n"], 2);
    assert!(said.contains("ed.key: an Ed25519 key, not an RSA key"), "{said}");
    assert!(!said.contains("OID"), "{said}");
    let said = expect(d, &["mkonion", "build", "--hop", "127.0.0.1:9001=ed.pub", "-o", "o.bin"], 2);
    assert!(said.contains("ed.pub: an Ed25519 key, not an RSA key"), "{said}");
}
