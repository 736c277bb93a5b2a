//! Directory helpers of the process tests: authorities' keys and file, `ork directory`
//! processes, `ork directory show`, echo through an onion proxy, raw `POST /descriptor`.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::Stdio;
use std::time::Duration;

use super::*;

pub const INTERVAL_SECS: u64 = 3;

/// Keys and an authorities file for `n` authorities; returns their ports.
pub fn authorities(bed: &Bed, n: usize) -> Vec<u16> {
    let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
    let mut file = String::new();
    for (i, p) in ports.iter().enumerate() {
        let st = ork().arg("keygen").arg("--out").arg(bed.path(&format!("a{}", i + 1))).stdout(Stdio::null()).status();
        assert!(st.expect("keygen").success());
        file += &format!("127.0.0.1:{p} a{}.pub\n", i + 1);
    }
    std::fs::write(bed.path("authorities"), file).expect("write authorities");
    ports
}

pub fn start_authority(bed: &mut Bed, i: usize, port: u16) {
    let args: Vec<String> = [
        "directory",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--key",
        &format!("a{}.key", i + 1),
        "--authorities",
        "authorities",
        "--state-dir",
        &format!("state-a{}", i + 1),
        "--interval",
        &format!("{INTERVAL_SECS}s"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    bed.spawn(&format!("a{}", i + 1), &args);
}

/// `ork directory show --json`, parsed, or `None` when it fails.
pub fn show(bed: &Bed) -> Option<serde_json::Value> {
    let out = ork()
        .args(["directory", "show", "--directory", "authorities", "--json"])
        .current_dir(bed.dir.path())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

pub fn router_names(v: &serde_json::Value) -> Vec<String> {
    v["routers"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["name"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

pub fn echo_ok(proxy: u16, echo: u16) -> bool {
    let Ok(mut s) = anon_connect(proxy, "127.0.0.1", echo) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    if s.write_all(b"through the directory").is_err() || s.shutdown(Shutdown::Write).is_err() {
        return false;
    }
    let mut got = Vec::new();
    s.read_to_end(&mut got).is_ok() && got == b"through the directory"
}

pub fn post(port: u16, body: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let req = format!("POST /descriptor HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    s.write_all(req.as_bytes()).expect("send");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    resp
}
