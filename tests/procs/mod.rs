//! Harness for process tests: real `ork` processes on 127.0.0.1 with keys from `ork keygen`,
//! neighbour and network files written as an operator would, logs kept per process, and every
//! child killed on drop.

#![allow(dead_code)]

pub mod directory;
pub mod lan;
pub mod sshd;

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn ork() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ork"))
}

/// A port free right now on 127.0.0.1, below the ephemeral range (so that no outgoing
/// connection of another test grabs it before our process binds it), in a block of its own per
/// test process.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 60) as u16 * 200;
    for _ in 0..200 {
        let port = base + NEXT.fetch_add(1, Ordering::Relaxed) % 200;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {base}..{}", base + 200)
}

/// Wait until `f` holds, or panic with `what` after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub struct Proc {
    pub name: String,
    pub child: Child,
    pub log: PathBuf,
    pub args: Vec<String>,
    /// Where this process's lines start in `log` (a restarted process appends to its log).
    pub log_from: usize,
}

/// A loopback testbed of routers and proxies.
pub struct Bed {
    pub dir: tempfile::TempDir,
    pub ports: Vec<u16>,
    /// Each router's `HOST:PORT` (127.0.0.1 unless made with [`Bed::new_at`]).
    pub addrs: Vec<String>,
    pub links: Vec<(usize, usize)>,
    pub procs: Vec<Proc>,
    /// Run every process in this network namespace (`ip netns exec`), when set.
    pub netns: Option<String>,
}

impl Bed {
    /// Keys, neighbour files and a network file for `n` routers with `links`.
    pub fn new(n: usize, links: Vec<(usize, usize)>) -> Bed {
        Bed::new_at((0..n).map(|_| ("127.0.0.1".to_string(), free_port())).collect(), links)
    }

    /// The same for routers at the given `(host, port)`s.
    pub fn new_at(hosts: Vec<(String, u16)>, links: Vec<(usize, usize)>) -> Bed {
        let dir = tempfile::tempdir().expect("tempdir");
        let n = hosts.len();
        let ports: Vec<u16> = hosts.iter().map(|h| h.1).collect();
        let addrs: Vec<String> = hosts.iter().map(|(h, p)| format!("{h}:{p}")).collect();
        for i in 0..n {
            let out = dir.path().join(format!("r{}", i + 1));
            let st = ork().arg("keygen").arg("--out").arg(&out).stdout(Stdio::null()).status().expect("run ork keygen");
            assert!(st.success(), "ork keygen failed");
        }
        let mut net = String::from("# ork test network\n");
        for (i, a) in addrs.iter().enumerate() {
            net += &format!("router r{} {a} r{}.pub\n", i + 1, i + 1);
        }
        for &(a, b) in &links {
            net += &format!("link r{} r{}\n", a + 1, b + 1);
        }
        fs::write(dir.path().join("network.txt"), net).expect("write network");
        for i in 0..n {
            let mut peers = String::new();
            for &(a, b) in &links {
                let j = if a == i {
                    b
                } else if b == i {
                    a
                } else {
                    continue;
                };
                peers += &format!("{} r{}.pub\n", addrs[j], j + 1);
            }
            fs::write(dir.path().join(format!("r{}.neighbors", i + 1)), peers).expect("write peers");
        }
        // RLOGIN needs an explicit rule, and only port 513 gets it.
        let policy = "accept 127.0.0.0/8:513 proto=rlogin\naccept 127.0.0.0/8:*\nreject *:*\n";
        fs::write(dir.path().join("exit-policy.txt"), policy).expect("policy");
        Bed { dir, ports, addrs, links, procs: Vec::new(), netns: None }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Start a process named `name` with `args`, logging to `name.log`.
    pub fn spawn(&mut self, name: &str, args: &[String]) -> usize {
        let netns = self.netns.clone();
        self.spawn_in(netns.as_deref(), name, args)
    }

    /// Start a process named `name` with `args` in network namespace `netns` (or this bed's).
    pub fn spawn_in(&mut self, netns: Option<&str>, name: &str, args: &[String]) -> usize {
        let log = self.path(&format!("{name}.log"));
        let f = fs::OpenOptions::new().create(true).append(true).open(&log).expect("log file");
        let log_from = f.metadata().map_or(0, |m| m.len() as usize);
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_ork")]);
                c
            }
            None => ork(),
        };
        let child = cmd
            .args(args)
            .current_dir(self.dir.path())
            // Destinations and routes are debug-level (SafeLogging); tests read them from the onion proxy.
            .env(
                "RUST_LOG",
                std::env::var("ORK_TEST_LOG").unwrap_or_else(|_| "info,ork::client::onion_proxy=debug".into()),
            )
            .stdin(Stdio::null())
            .stdout(f.try_clone().expect("dup"))
            .stderr(f)
            .spawn()
            .expect("spawn ork");
        self.procs.push(Proc { name: name.into(), child, log, args: args.to_vec(), log_from });
        self.procs.len() - 1
    }

    pub fn router_args(&self, i: usize, extra: &[&str]) -> Vec<String> {
        let mut a: Vec<String> = vec![
            "router".into(),
            "--listen".into(),
            self.addrs[i].clone(),
            "--key".into(),
            format!("r{}.key", i + 1),
            "--neighbors".into(),
            format!("r{}.neighbors", i + 1),
            "--exit-policy".into(),
            "exit-policy.txt".into(),
            "--state-dir".into(),
            format!("state-r{}", i + 1),
        ];
        a.extend(extra.iter().map(|s| s.replace("{i}", &(i + 1).to_string())));
        a
    }

    /// Start every router (`{i}` in `extra` becomes the router's number) and wait until each has all its links.
    pub fn start_routers(&mut self, extra: &[&str]) {
        for i in 0..self.ports.len() {
            let args = self.router_args(i, extra);
            self.spawn(&format!("r{}", i + 1), &args);
        }
        self.wait_links();
    }

    pub fn degree(&self, i: usize) -> usize {
        self.links.iter().filter(|&&(a, b)| a == i || b == i).count()
    }

    /// Links up minus links down in router i's log.
    /// Router links up in the latest run of process `name` (a killed router logs no "link
    /// down", so the lines of an earlier run must not count).
    pub fn links_up(&self, name: &str) -> i64 {
        let log = self.log(name);
        let from = self.procs.iter().rfind(|p| p.name == name).map_or(0, |p| p.log_from);
        let log = log.get(from..).unwrap_or_default();
        log.matches("link up: router").count() as i64 - log.matches("link down: router").count() as i64
    }

    pub fn wait_links(&self) {
        for i in 0..self.ports.len() {
            let name = format!("r{}", i + 1);
            let want = self.degree(i) as i64;
            wait_for(&format!("{name} links"), Duration::from_secs(20), || self.links_up(&name) >= want);
        }
    }

    pub fn log(&self, name: &str) -> String {
        fs::read_to_string(self.path(&format!("{name}.log"))).unwrap_or_default()
    }

    pub fn proc_index(&self, name: &str) -> usize {
        self.procs.iter().rposition(|p| p.name == name).expect("process")
    }

    pub fn kill(&mut self, name: &str) {
        let i = self.proc_index(name);
        let _ = self.procs[i].child.kill();
        let _ = self.procs[i].child.wait();
    }

    pub fn restart(&mut self, name: &str) {
        let i = self.proc_index(name);
        let args = self.procs[i].args.clone();
        self.spawn(name, &args);
    }

    /// Start an onion proxy entering at r1; returns its port.
    pub fn start_onion_proxy(&mut self, name: &str, extra: &[&str]) -> u16 {
        let port = free_port();
        let mut a: Vec<String> = vec![
            "onion-proxy".into(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--network".into(),
            "network.txt".into(),
            "--entry".into(),
            "r1".into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        self.spawn(name, &a);
        wait_for("onion proxy uplink", Duration::from_secs(20), || self.log(name).contains("uplink to"));
        port
    }

    /// Print every log (for failing tests).
    pub fn dump_logs(&self) {
        for p in &self.procs {
            eprintln!("===== {} =====\n{}", p.name, self.log(&p.name));
        }
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dump_logs();
        }
        for p in &mut self.procs {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }
}

/// Open an anonymous TCP connection through the onion proxy; returns the stream after a zero
/// status byte, or the status.
pub fn anon_connect(proxy_port: u16, host: &str, port: u16) -> Result<TcpStream, u8> {
    let mut s = TcpStream::connect(("127.0.0.1", proxy_port)).expect("connect to onion proxy");
    s.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    let mut st = vec![1u8, 4, 0, 1];
    st.extend_from_slice(host.as_bytes());
    st.push(0);
    st.extend_from_slice(port.to_string().as_bytes());
    st.push(0);
    s.write_all(&st).expect("send structure");
    let mut b = [0u8; 1];
    s.read_exact(&mut b).expect("status byte");
    if b[0] == 0 {
        Ok(s)
    } else {
        Err(b[0])
    }
}

/// A TCP echo server on a free port (a thread per connection, half-close aware).
pub fn echo_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind echo");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut r = s.try_clone().expect("clone");
                let mut w = s;
                let _ = std::io::copy(&mut r, &mut w);
                let _ = w.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    port
}

pub fn sha256(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(data))
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}

/// Every pair of `n` routers linked.
pub fn full_mesh(n: usize) -> Vec<(usize, usize)> {
    (0..n).flat_map(|a| (a + 1..n).map(move |b| (a, b))).collect()
}

/// `len` pseudo-random bytes (xorshift32) from `seed`: test data, not a key.
pub fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = 0x2545_f491 ^ seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Resident set size of a process, in KiB (0 if it is gone).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Wait (15 s at most) until something listens on loopback port `port`.
pub fn wait_port(port: u16) {
    wait_for(&format!("port {port}"), Duration::from_secs(15), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
}

/// The application proxy subcommand `name` with `args` in front of the onion proxy on port `op`.
pub fn app_proxy(bed: &mut Bed, op: u16, name: &str, args: &[&str]) -> u16 {
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
