//! Application proxies with real clients and servers we did not write (issue 5): curl through
//! `ork http-proxy`, swaks and Python's smtplib through `ork smtp-proxy` to aiosmtpd, and the
//! rlogin rewrite through `ork rlogin-proxy`; five real routers and an onion proxy in between.

mod procs;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use procs::*;

fn full_mesh(n: usize) -> Vec<(usize, usize)> {
    (0..n).flat_map(|a| (a + 1..n).map(move |b| (a, b))).collect()
}

fn need(cmd: &str) {
    let ok = Command::new("sh").arg("-c").arg(format!("command -v {cmd}")).stdout(Stdio::null()).status();
    assert!(ok.map(|s| s.success()).unwrap_or(false), "{cmd} is missing: run scripts/test.sh, which installs it");
}

struct Killer(Vec<Child>);
impl Drop for Killer {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_port(port: u16) {
    wait_for(&format!("port {port}"), Duration::from_secs(15), || TcpStream::connect(("127.0.0.1", port)).is_ok());
}

/// Routers, an onion proxy, and the proxy subcommand `name` with `args`; returns its port.
fn stack(bed: &mut Bed, name: &str, args: &[&str]) -> u16 {
    let op = bed.start_onion_proxy("op", &["--hops", "3"]);
    let port = free_port();
    let mut a: Vec<String> = vec![
        name.into(),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
        "--onion-proxy".into(),
        format!("127.0.0.1:{op}"),
    ];
    a.extend(args.iter().map(|s| s.to_string()));
    bed.spawn(name, &a);
    wait_port(port);
    port
}

fn curl(args: &[&str]) -> (bool, String) {
    let out = Command::new("curl").args(["-s", "-S", "--max-time", "20"]).args(args).output().expect("run curl");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

#[test]
fn curl_through_the_http_proxy_is_filtered_both_ways() {
    need("curl");
    let mut bed = Bed::new(5, full_mesh(5));
    bed.start_routers(&[]);
    let web = free_port();
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/header_echo.py");
    let _server = Killer(vec![Command::new("python3").arg(fixture).arg(web.to_string()).spawn().expect("python3")]);
    wait_port(web);
    let hp = stack(&mut bed, "http-proxy", &[]);
    let proxy = format!("http://127.0.0.1:{hp}");
    let url = format!("http://127.0.0.1:{web}/page");
    let ident = [
        "-H",
        "Cookie: session=secret",
        "-H",
        "Referer: http://me.example/",
        "-H",
        "From: me@example.org",
        "-A",
        "MyBrowser/1.0",
    ];
    // GET, then a POST on the same (keep-alive) client connection.
    let mut args = vec!["-D", "-", "-x", &proxy];
    args.extend(ident);
    args.extend([
        url.as_str(),
        "--next",
        "-D",
        "-",
        "-x",
        &proxy,
        "-d",
        "posted=body",
        "-H",
        "Cookie: again=secret",
        url.as_str(),
    ]);
    let (ok, text) = curl(&args);
    assert!(ok, "{text}");
    assert_eq!(text.matches("HTTP/1.1 200").count(), 2, "two responses: {text}");
    assert!(text.contains("BODY:posted=body"), "POST body relayed: {text}");
    for leak in ["secret", "Referer", "me@example.org", "MyBrowser", "Set-Cookie", "tracker"] {
        assert!(!text.contains(leak), "{leak} got through the filter: {text}");
    }
    assert!(text.matches("GET /page HTTP").count() == 0, "no request line echoed");
    // With --no-filter everything passes.
    bed.kill("op");
    let hp2 = stack(&mut bed, "http-proxy", &["--no-filter"]);
    let proxy2 = format!("http://127.0.0.1:{hp2}");
    let mut args = vec!["-D", "-", "-x", proxy2.as_str()];
    args.extend(ident);
    args.push(&url);
    let (ok, text) = curl(&args);
    assert!(ok, "{text}");
    for kept in
        ["session=secret", "Referer: http://me.example/", "From: me@example.org", "MyBrowser/1.0", "tracker=abc123"]
    {
        assert!(text.contains(kept), "{kept} missing without the filter: {text}");
    }
    // CONNECT tunnel (protocol 4) and a refused destination (502).
    let (ok, text) = curl(&["-p", "-x", &proxy2, &url]);
    assert!(ok && text.contains("BODY:"), "CONNECT tunnel: {text}");
    let closed = free_port();
    let (_, text) = curl(&["-i", "-x", &proxy2, &format!("http://127.0.0.1:{closed}/")]);
    assert!(text.starts_with("HTTP/1.1 502"), "refused destination: {text}");
}

#[test]
fn mail_through_the_smtp_proxy_arrives_anonymous() {
    need("swaks");
    let has_aiosmtpd =
        Command::new("/usr/bin/python3").args(["-c", "import aiosmtpd"]).status().map(|s| s.success()).unwrap_or(false);
    assert!(has_aiosmtpd, "python3-aiosmtpd is missing: run scripts/test.sh, which installs it");
    let mut bed = Bed::new(5, full_mesh(5));
    bed.start_routers(&[]);
    let mx = free_port();
    let maildir = bed.path("mail");
    let _server = Killer(vec![Command::new("/usr/bin/python3")
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{mx}"), "-c", "aiosmtpd.handlers.Mailbox"])
        .arg(&maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("aiosmtpd")]);
    wait_port(mx);
    let sp = stack(&mut bed, "smtp-proxy", &["--smtp-port", &mx.to_string(), "--hostname", "proxy.test"]);
    let out = Command::new("swaks")
        .args([
            "--server",
            &format!("127.0.0.1:{sp}"),
            "--from",
            "alice@home.example",
            "--to",
            "bob%127.0.0.1@proxy.test",
        ])
        .args([
            "--header",
            "Subject: secret plans",
            "--header",
            "X-Mailer: AliceMail",
            "--body",
            "meet at noon\n.dot line\n",
        ])
        .output()
        .expect("swaks");
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "swaks: {log}");
    // Two messages in one session, from Python's smtplib.
    let script = format!(
        "import smtplib\ns=smtplib.SMTP('127.0.0.1',{sp},timeout=20)\ns.helo('alicebox')\n\
         s.sendmail('alice@home.example',['carol%127.0.0.1@proxy.test'],'Subject: one\\r\\n\\r\\nfirst body\\r\\n')\n\
         s.sendmail('alice@home.example',['dave%127.0.0.1@proxy.test'],'Subject: two\\r\\n\\r\\nsecond body\\r\\n')\ns.quit()\n"
    );
    let st = Command::new("python3").arg("-c").arg(&script).status().expect("python3");
    assert!(st.success(), "two messages in one session");
    wait_for("three messages stored", Duration::from_secs(10), || {
        std::fs::read_dir(maildir.join("new")).map(|d| d.count()).unwrap_or(0) == 3
    });
    let mut all = String::new();
    for e in std::fs::read_dir(maildir.join("new")).expect("maildir") {
        all += &std::fs::read_to_string(e.expect("entry").path()).expect("message");
        all += "\n=====\n";
    }
    assert!(all.contains("meet at noon") && all.contains("\n.dot line"), "body intact (dot-stuffing undone): {all}");
    assert!(all.contains("first body") && all.contains("second body"), "{all}");
    assert!(all.contains("anonymous@proxy.test"), "anonymous sender: {all}");
    for leak in ["alice", "AliceMail", "secret plans", "alicebox"] {
        assert!(!all.contains(leak), "{leak} reached the server: {all}");
    }
    // An IP address becomes an RFC 5321 address literal.
    assert!(all.contains("bob@[127.0.0.1]") && all.contains("carol@[127.0.0.1]"), "recipients rewritten: {all}");
}

#[test]
fn rlogin_request_is_rewritten_before_it_leaves() {
    let mut bed = Bed::new(3, full_mesh(3));
    bed.start_routers(&[]);
    let server = TcpListener::bind("127.0.0.1:0").expect("bind");
    let sport = server.local_addr().expect("addr").port();
    let rp = stack(&mut bed, "rlogin-proxy", &["--rlogin-port", &sport.to_string()]);
    let mut client = TcpStream::connect(("127.0.0.1", rp)).expect("connect");
    client.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    client.write_all(b"\0localuser\0bob@127.0.0.1\0xterm/38400\0").expect("request");
    let (mut s, peer) = server.accept().expect("exit connected");
    s.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    let mut got = vec![0u8; b"\0bob\0bob\0xterm/38400\0".len()];
    s.read_exact(&mut got).expect("rewritten request");
    assert_eq!(got, b"\0bob\0bob\0xterm/38400\0", "the client's user name never leaves");
    if nix_is_root() {
        assert!((512..=1023).contains(&peer.port()), "privileged source port as rlogind requires: {peer}");
    } else {
        eprintln!("NOTE: not root, so the exit cannot bind a privileged port; source port {peer} not checked");
    }
    let answer = b"\0welcome bob\r\n";
    s.write_all(answer).expect("ack");
    let mut b = vec![0u8; answer.len()];
    client.read_exact(&mut b).expect("server's answer");
    assert_eq!(&b, answer);
}

fn nix_is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
