//! `ork socks-proxy` with real clients we did not write (issue 16), over five real routers and an
//! onion proxy: curl in every SOCKS mode, torsocks, OpenSSH through netcat and through `ork
//! connect`, headless Chromium; isolation by credentials; bad input; `--allow-from` on every
//! application proxy.

mod procs;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use procs::sshd::*;
use procs::*;

/// Five routers (full mesh), an onion proxy building five-hop routes, a SOCKS proxy.
fn five_hops() -> (Bed, u16, u16) {
    let mut bed = Bed::new(5, full_mesh(5));
    bed.start_routers(&[]);
    let op = bed.start_onion_proxy("op", &["--hops", "5"]);
    let socks = app_proxy(&mut bed, op, "socks-proxy", &[]);
    (bed, op, socks)
}

/// `python3 -m http.server` serving `dir` on a free loopback port.
fn file_server(dir: &Path) -> (Killer, u16) {
    let port = free_port();
    let child = Command::new("python3")
        .args(["-m", "http.server", "--bind", "127.0.0.1", &port.to_string(), "--directory"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 http.server");
    wait_port(port);
    (Killer(vec![child]), port)
}

fn curl(args: &[&str]) -> (bool, Vec<u8>, String) {
    let out = Command::new("curl").args(["-s", "-S", "--max-time", "30"]).args(args).output().expect("run curl");
    (out.status.success(), out.stdout, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The onion proxy's debug lines for connections to `dest` (`host:port`).
fn routes_to(bed: &Bed, dest: &str) -> Vec<String> {
    let prefix = format!("connection to {dest} via ");
    bed.log("op").lines().filter_map(|l| l.split_once(&prefix).map(|(_, r)| r.to_string())).collect()
}

#[test]
fn curl_in_every_socks_mode_over_five_hops() {
    need("curl");
    let (bed, _op, socks) = five_hops();
    let site = tempfile::tempdir().expect("site dir");
    let blob = pattern(300_000, 16);
    std::fs::write(site.path().join("blob"), &blob).expect("write blob");
    let (_web, web) = file_server(site.path());
    let proxy = format!("127.0.0.1:{socks}");
    for (mode, host) in [
        ("--socks5-hostname", "localhost"),
        ("--socks5", "127.0.0.1"),
        ("--socks4a", "localhost"),
        ("--socks4", "127.0.0.1"),
    ] {
        let url = format!("http://{host}:{web}/blob");
        let (ok, body, err) = curl(&[mode, &proxy, &url]);
        assert!(ok, "curl {mode}: {err}");
        assert_eq!(sha256(&body), sha256(&blob), "curl {mode} {url}: body differs");
        eprintln!("curl {mode} {proxy} {url}: {} bytes, SHA-256 equal", body.len());
    }
    // The names travelled to the exit (never resolved by the proxies); each route has five hops.
    let by_name = routes_to(&bed, &format!("localhost:{web}"));
    assert_eq!(by_name.len(), 2, "socks5-hostname and socks4a by name: {by_name:?}");
    assert_eq!(routes_to(&bed, &format!("127.0.0.1:{web}")).len(), 2);
    assert!(by_name.iter().all(|r| r.split(" > ").count() == 5), "{by_name:?}");
    assert!(bed.log("op").contains("anonymous connection 4 opened (5 hops)"), "info counts connections");
}

#[test]
fn credentials_isolate_routes() {
    need("curl");
    let (bed, _op, socks) = five_hops();
    let site = tempfile::tempdir().expect("site dir");
    std::fs::write(site.path().join("page"), b"isolated").expect("write");
    let (_web, web) = file_server(site.path());
    let proxy = format!("127.0.0.1:{socks}");
    let url = format!("http://localhost:{web}/page");
    for user in ["alice:x", "bob:y", "alice:x", "bob:y"] {
        let (ok, body, err) = curl(&["--socks5-hostname", &proxy, "--proxy-user", user, &url]);
        assert!(ok && body == b"isolated", "{user}: {err}");
    }
    let routes = routes_to(&bed, &format!("localhost:{web}"));
    assert_eq!(routes.len(), 4, "{routes:?}");
    // "r1 > r4 > ... , isolation IsolationKey(1a2b3c4d)": the route and its key.
    let split: Vec<(String, String)> = routes
        .iter()
        .map(|r| r.split_once(", isolation ").map(|(p, k)| (p.to_string(), k.to_string())).expect("keyed route"))
        .collect();
    let (alice, bob) = (&split[0], &split[1]);
    assert_ne!(alice.1, bob.1, "two credentials, two keys");
    assert_eq!(&split[2], alice, "the same credentials share their route");
    assert_eq!(&split[3], bob, "the same credentials share their route");
    assert_ne!(alice.0, bob.0, "different credentials never share a route");
    let path = |r: &(String, String)| r.0.clone();
    eprintln!("isolation: alice via {}, bob via {}", path(alice), path(bob));
}

#[test]
fn bad_input_gets_a_reply_or_a_close_and_a_log_line() {
    let (bed, _op, socks) = five_hops();
    let mut cases: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
        ("no methods", vec![5, 0], vec![5, 0xFF]),
        ("unknown version", vec![7, 1, 0], vec![]),
        ("name of length 0", vec![5, 1, 0, 5, 1, 0, 3, 0, 0, 80], vec![5, 0, 5, 4, 0, 1, 0, 0, 0, 0, 0, 0]),
        (
            "port 0 CONNECT",
            [&[5, 1, 0, 5, 1, 0, 3, 9][..], b"localhost", &[0, 0]].concat(),
            vec![5, 0, 5, 1, 0, 1, 0, 0, 0, 0, 0, 0],
        ),
        ("BIND", vec![5, 1, 0, 5, 2, 0, 1, 127, 0, 0, 1, 0, 80], vec![5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0]),
        ("UDP ASSOCIATE", vec![5, 1, 0, 5, 3, 0, 1, 127, 0, 0, 1, 0, 80], vec![5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0]),
    ];
    cases.push(("1 MiB of garbage", pattern(1 << 20, 3).iter().map(|b| b | 0x80).collect(), vec![]));
    for (what, input, want) in &cases {
        let mut s = TcpStream::connect(("127.0.0.1", socks)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let _ = s.write_all(input); // the proxy may close before it has read all of it
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        assert_eq!(&got, want, "{what}");
        eprintln!("bad input {what}: reply {got:02x?}, then close");
    }
    // A truncated request: the client ends it half-way; the proxy closes.
    let mut s = TcpStream::connect(("127.0.0.1", socks)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    s.write_all(&[5, 1, 0, 5, 1, 0, 3, 20, b'a', b'b']).expect("write");
    s.shutdown(Shutdown::Write).expect("half-close");
    let mut got = Vec::new();
    s.read_to_end(&mut got).expect("closed cleanly");
    assert_eq!(got, [5, 0], "only the method choice, then close");
    let log = bed.log("socks-proxy");
    for line in [
        "offers no methods",
        "unknown SOCKS version",
        "empty host name",
        "port 0",
        "unsupported command 0x02",
        "unsupported command 0x03",
        "ended in the middle of a message",
    ] {
        assert!(log.contains(line), "log line for {line}: {log}");
    }
    // Still serving.
    let echo = echo_server();
    let mut s = TcpStream::connect(("127.0.0.1", socks)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    let mut req = vec![5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1];
    req.extend_from_slice(&echo.to_be_bytes());
    req.extend_from_slice(b"ping");
    s.write_all(&req).expect("write");
    let mut got = [0u8; 2 + 10 + 4];
    s.read_exact(&mut got).expect("reply and echo");
    assert_eq!(&got[12..], b"ping", "optimistic data echoed after the reply {got:02x?}");
}

/// A client from 127.0.0.2 to each proxy started with `--allow-from 127.0.0.1/32`.
#[test]
fn each_proxy_refuses_clients_outside_allow_from() {
    let mut bed = Bed::new(1, vec![]);
    bed.start_routers(&[]);
    let op = bed.start_onion_proxy("op", &["--hops", "1"]);
    let allow = ["--allow-from", "127.0.0.1/32"];
    for (name, want) in [
        ("http-proxy", &b"HTTP/1.1 403 Forbidden"[..]),
        ("smtp-proxy", b"554 5.7.1 "),
        ("rlogin-proxy", b"\x01ork rlogin-proxy: permission denied"),
        ("socks-proxy", b""),
    ] {
        let port = app_proxy(&mut bed, op, name, &allow);
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
        sock.bind(&"127.0.0.2:0".parse::<SocketAddr>().expect("addr").into()).expect("bind 127.0.0.2");
        sock.connect(&SocketAddr::from(([127, 0, 0, 1], port)).into()).expect("connect");
        let mut s: TcpStream = sock.into();
        s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let _ = s.write_all(b"\x05\x01\x00");
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        assert!(got.starts_with(want), "{name}: {:?}", String::from_utf8_lossy(&got));
        if want.is_empty() {
            assert!(got.is_empty(), "{name} says nothing");
        }
        wait_for(&format!("{name} log line"), Duration::from_secs(5), || {
            bed.log(name).contains("client 127.0.0.2:") && bed.log(name).contains("refused: not in --allow-from")
        });
        eprintln!("{name} from 127.0.0.2: {:?}, logged", String::from_utf8_lossy(&got[..got.len().min(40)]));
        // Loopback 127.0.0.1 is still served.
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect from 127.0.0.1");
        drop(s);
    }
}

/// The machine's own name if it resolves to a loopback address (Debian's /etc/hosts maps it to
/// 127.0.1.1): a name that torsocks sends through RESOLVE (it answers "localhost" itself).
fn loopback_hostname() -> String {
    let name = String::from_utf8(Command::new("hostname").output().expect("hostname").stdout).expect("utf-8");
    let name = name.trim().to_string();
    let addrs: Vec<SocketAddr> =
        std::net::ToSocketAddrs::to_socket_addrs(&(name.as_str(), 80)).expect("resolve hostname").collect();
    assert!(addrs.iter().any(|a| a.ip().is_loopback()), "{name} must resolve to loopback for this test: {addrs:?}");
    name
}

#[test]
fn torsocks_resolves_names_through_the_exit() {
    need("torsocks");
    need("curl");
    need("nc");
    let (bed, _op, socks) = five_hops();
    let site = tempfile::tempdir().expect("site dir");
    std::fs::write(site.path().join("page"), b"via torsocks").expect("write");
    let (_web, web) = file_server(site.path());
    let name = loopback_hostname();
    let conf = bed.path("torsocks.conf");
    // Destinations on loopback are reached directly by torsocks (it never sends them to SOCKS);
    // the names are resolved through the proxy's RESOLVE all the same.
    std::fs::write(&conf, format!("TorAddress 127.0.0.1\nTorPort {socks}\nAllowOutboundLocalhost 1\n")).expect("conf");
    let out = Command::new("torsocks")
        .env("TORSOCKS_CONF_FILE", &conf)
        .args(["curl", "-s", "-S", "--max-time", "30", &format!("http://{name}:{web}/page")])
        .output()
        .expect("torsocks curl");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && out.stdout == b"via torsocks", "torsocks curl: {err}");
    let echo = echo_server();
    let out = Command::new("sh")
        .env("TORSOCKS_CONF_FILE", &conf)
        .arg("-c")
        .arg(format!("printf 'hello over nc\\n' | torsocks nc -N {name} {echo}"))
        .output()
        .expect("torsocks nc");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello over nc\n", "{}", String::from_utf8_lossy(&out.stderr));
    let resolves = routes_to(&bed, &format!("{name}:0"));
    assert!(resolves.len() >= 2, "curl and nc each resolved {name} through the exit (protocol 5): {resolves:?}");
    eprintln!("torsocks curl and nc by name {name}: {} RESOLVEs through five hops", resolves.len());
}

#[test]
fn openssh_through_nc_and_ork_connect() {
    need("nc");
    let (bed, op, socks) = five_hops();
    let d = sshd(bed.dir.path());
    let nc = format!("nc -X 5 -x 127.0.0.1:{socks} %h %p");
    let (ok, text) = ssh(&d, &nc);
    assert!(ok && text.contains("ORK_42"), "ssh via nc -X 5: {text}");
    let connect = format!("{} connect --onion-proxy 127.0.0.1:{op} %h %p", env!("CARGO_BIN_EXE_ork"));
    let (ok, text) = ssh(&d, &connect);
    assert!(ok && text.contains("ORK_42"), "ssh via ork connect: {text}");
    assert_eq!(routes_to(&bed, &format!("localhost:{}", d.port)).len(), 2, "both went through the onion proxy");
    eprintln!("ssh -o ProxyCommand='{nc}' and ProxyCommand='ork connect ... %h %p': ORK_42 both times");
}

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|b| {
        Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {b}"))
            .stdout(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    })
}

/// Headless Chromium's DOM of `url` through `proxy`, with extra flags.
fn chromium_dump(browser: &str, proxy: &str, url: &str, extra: &[&str]) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let out = Command::new("timeout")
        .arg("90")
        .arg(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
        .args(["--disable-component-update", "--disable-sync"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--proxy-server={proxy}"))
        .arg("--proxy-bypass-list=<-loopback>")
        .args(extra)
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("run chromium");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn header_echo() -> (Killer, u16) {
    let web = free_port();
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/servers/header_echo.py");
    let child =
        Command::new("python3").arg(fixture).arg(web.to_string()).stdout(Stdio::null()).spawn().expect("python3");
    wait_port(web);
    (Killer(vec![child]), web)
}

#[test]
fn chromium_through_the_socks_proxy() {
    let Some(browser) = chromium() else {
        eprintln!("SKIPPED (LOUDLY): chromium is not installed (scripts/test.sh installs it where Debian ships it)");
        return;
    };
    let (bed, _op, socks) = five_hops();
    let (_server, web) = header_echo();
    let dom = chromium_dump(browser, &format!("socks5://127.0.0.1:{socks}"), &format!("http://localhost:{web}/"), &[]);
    assert!(dom.contains(&format!("Host: localhost:{web}")), "the page came back: {dom}");
    let routes = routes_to(&bed, &format!("localhost:{web}"));
    assert!(!routes.is_empty(), "the page went through ork (the onion proxy counted it)");
    eprintln!(
        "chromium --proxy-server=socks5://127.0.0.1:{socks}: page loaded over {} anonymous connection(s)",
        routes.len()
    );
}

/// The header names (lowercase) and values the echo server reported, in order.
fn echoed_headers(text: &str) -> Vec<(String, String)> {
    let text = text.find("Host: ").map_or(text, |i| &text[i..]); // after Chromium's <pre>
    text.lines()
        .take_while(|l| !l.starts_with("BODY:"))
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect()
}

/// The privacy filter with today's browsers: Chromium (German) and curl through `ork
/// http-proxy`; the server sees exactly the expected header set.
#[test]
fn http_filter_leaves_browsers_nothing_to_tell() {
    need("curl");
    let (mut bed, op, _socks) = five_hops();
    let hp = app_proxy(&mut bed, op, "http-proxy", &[]);
    let (_server, web) = header_echo();
    let url = format!("http://127.0.0.1:{web}/");
    let proxy = format!("http://127.0.0.1:{hp}");
    let (ok, body, err) = curl(&[
        "-x",
        &proxy,
        "-H",
        "Accept-Language: de-DE,de;q=0.9",
        "-H",
        "sec-ch-ua: \"Chromium\";v=\"156\"",
        "-H",
        "Sec-CH-UA-Platform: \"Linux\"",
        "-H",
        "X-Client-Data: CIu2yQEIpLbJAQ==",
        &url,
    ]);
    assert!(ok, "{err}");
    let got = echoed_headers(&String::from_utf8_lossy(&body));
    let want: Vec<(String, String)> = [
        ("host", format!("127.0.0.1:{web}")),
        ("user-agent", "Mozilla/5.0 (compatible)".to_string()),
        ("accept", "*/*".to_string()),
        ("accept-language", "en-US,en;q=0.5".to_string()),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_string(), v))
    .collect();
    assert_eq!(got, want, "curl's headers as the server saw them");
    eprintln!("curl through the filter: the server saw {got:?}");
    let Some(browser) = chromium() else {
        eprintln!("SKIPPED (LOUDLY): the Chromium half: chromium is not installed");
        return;
    };
    let dom = chromium_dump(browser, &proxy, &url, &["--lang=de-DE"]);
    let got = echoed_headers(&dom.replace("&amp;", "&").replace("&quot;", "\""));
    eprintln!("chromium --lang=de-DE through the filter: the server saw {got:?}");
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    let exact = [
        "host",
        "upgrade-insecure-requests",
        "user-agent",
        "accept",
        "sec-fetch-site",
        "sec-fetch-mode",
        "sec-fetch-user",
        "sec-fetch-dest",
        "accept-encoding",
        "accept-language",
    ];
    assert_eq!(names, exact, "Chromium's header set as the server saw it");
    for name in &names {
        assert!(
            !name.starts_with("sec-ch-") && *name != "x-client-data" && *name != "cookie" && *name != "referer",
            "{name} reached the server: {got:?}"
        );
    }
    let value = |n: &str| got.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    assert_eq!(value("user-agent"), Some("Mozilla/5.0 (compatible)"));
    assert_eq!(value("accept-language"), Some("en-US,en;q=0.5"), "the user's language is hidden");
    assert!(!dom.contains("de-DE") && !dom.contains("Chromium") && !dom.contains("Linux"), "{dom}");
}
