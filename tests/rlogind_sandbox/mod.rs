//! The real `in.rlogind` for a test, without changing the host: it runs inside a network
//! namespace the test creates (reached over a veth pair of its own), started per connection by
//! `tests/fixtures/mini_inetd.py` there (not by a system inetd), and in a private mount
//! namespace whose /etc/passwd, /etc/shadow, /etc/group and /etc/pam.d are copies with the test
//! user (and the daemon's PAM file, and the veth's host side in /etc/hosts) added: the user exists only inside that namespace and only
//! while the test runs. Its home, with the `.rhosts` that trusts the host side of the veth, is in
//! a temporary directory. Drop kills every process in the namespace, deletes it (and the veth)
//! and the directory, also when the test fails.

use std::io::{BufRead, BufReader, Read};
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

/// The login name; it exists only inside the sandbox's mount namespace.
pub const TEST_USER: &str = "orkrlogin";
/// The name of the host side of the veth in the sandbox's /etc/hosts.
pub const CLIENT_HOST: &str = "ork-rlogin-client";
/// The port rlogind listens on inside the namespace (its own, so the real one).
pub const RLOGIN_PORT: u16 = 513;

/// Where the daemon and its PAM file are: `ORK_RLOGIND_ROOT` (scripts/test.sh extracts the
/// rsh-redone-server package there without installing it), else `target/test-tools/...`, else
/// an installed package.
pub fn find_rlogind() -> Option<(PathBuf, PathBuf)> {
    let roots = [
        std::env::var_os("ORK_RLOGIND_ROOT").map(PathBuf::from),
        Some(PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target/test-tools/rsh-redone-server"))),
        Some(PathBuf::from("/")),
    ];
    roots.into_iter().flatten().find_map(|root| {
        let (daemon, pam) = (root.join("usr/sbin/in.rlogind"), root.join("etc/pam.d/rlogin"));
        (daemon.is_file() && pam.is_file()).then_some((daemon, pam))
    })
}

pub struct RlogindSandbox {
    ns: String,
    host_if: String,
    /// The host's end of the veth: the address rlogind sees connections from.
    pub host_ip: Ipv4Addr,
    /// The namespace's end, where rlogind listens on [`RLOGIN_PORT`].
    pub ns_ip: Ipv4Addr,
    dir: tempfile::TempDir,
    inetd: Option<(Child, BufReader<ChildStdout>)>,
}

fn run(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0]).args(&args[1..]).output().map_err(|e| format!("{}: {e}", args[0]))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

impl RlogindSandbox {
    /// Create the namespace, the veth, the user's files, and start the per-connection inetd.
    pub fn start(rlogind: &Path, pam_rlogin: &Path) -> Result<RlogindSandbox, String> {
        let id = std::process::id();
        let (a, b) = ((id / 64 % 250) as u8, (id % 64 * 4) as u8);
        let mut sb = RlogindSandbox {
            ns: format!("ork-rl-{id}"),
            host_if: format!("orkrl{id}"),
            host_ip: Ipv4Addr::new(10, 213, a, b + 1),
            ns_ip: Ipv4Addr::new(10, 213, a, b + 2),
            dir: tempfile::tempdir().map_err(|e| e.to_string())?,
            inetd: None,
        };
        // From here on, Drop undoes whatever part of this was done.
        let (ns, host_if) = (sb.ns.clone(), sb.host_if.clone());
        let (host_cidr, ns_cidr) = (format!("{}/30", sb.host_ip), format!("{}/30", sb.ns_ip));
        run(&["ip", "netns", "add", &ns])?;
        run(&["ip", "link", "add", &host_if, "type", "veth", "peer", "name", "eth0", "netns", &ns])?;
        run(&["ip", "addr", "add", &host_cidr, "dev", &host_if])?;
        run(&["ip", "link", "set", &host_if, "up"])?;
        run(&["ip", "-n", &ns, "addr", "add", &ns_cidr, "dev", "eth0"])?;
        run(&["ip", "-n", &ns, "link", "set", "eth0", "up"])?;
        run(&["ip", "-n", &ns, "link", "set", "lo", "up"])?;
        sb.write_user_files(pam_rlogin)?;
        sb.start_inetd(rlogind)?;
        Ok(sb)
    }

    /// Copies of the account files and PAM directory with the test user, its home and .rhosts.
    fn write_user_files(&self, pam_rlogin: &Path) -> Result<(), String> {
        let d = self.dir.path();
        let io = |e: std::io::Error| e.to_string();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).map_err(io)?;
        let keep = |file: &str| -> Result<String, String> {
            let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
            Ok(text.lines().filter(|l| !l.starts_with(&format!("{TEST_USER}:"))).map(|l| format!("{l}\n")).collect())
        };
        let passwd = keep("/etc/passwd")?;
        let used: Vec<u32> = passwd.lines().filter_map(|l| l.split(':').nth(2)?.parse().ok()).collect();
        let uid = (50_000..59_000).rev().find(|u| !used.contains(u)).ok_or("no free uid")?;
        let home = d.join("home");
        std::fs::create_dir(&home).map_err(io)?;
        let hd = home.display();
        std::fs::write(d.join("passwd"), format!("{passwd}{TEST_USER}:x:{uid}:{uid}:ork test:{hd}:/bin/sh\n"))
            .map_err(io)?;
        std::fs::write(d.join("shadow"), format!("{}{TEST_USER}:!:19000:0:99999:7:::\n", keep("/etc/shadow")?))
            .map_err(io)?;
        std::fs::write(d.join("group"), format!("{}{TEST_USER}:x:{uid}:\n", keep("/etc/group")?)).map_err(io)?;
        std::fs::set_permissions(d.join("shadow"), std::fs::Permissions::from_mode(0o640)).map_err(io)?;
        // rlogind looks the peer's name up, and the namespace has no DNS.
        std::fs::write(d.join("hosts"), format!("{}{} {CLIENT_HOST}\n", keep("/etc/hosts")?, self.host_ip))
            .map_err(io)?;
        run(&["cp", "-a", "/etc/pam.d", &d.join("pam.d").display().to_string()])?;
        std::fs::copy(pam_rlogin, d.join("pam.d/rlogin")).map_err(io)?;
        let rhosts = home.join(".rhosts");
        std::fs::write(&rhosts, format!("{CLIENT_HOST} {TEST_USER}\n{} {TEST_USER}\n", self.host_ip)).map_err(io)?;
        std::fs::set_permissions(&rhosts, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        std::os::unix::fs::chown(&home, Some(uid), Some(uid)).map_err(io)?;
        std::os::unix::fs::chown(&rhosts, Some(uid), Some(uid)).map_err(io)?;
        Ok(())
    }

    /// mini_inetd.py on ns_ip:513 in the namespace, with the copies mounted over /etc.
    fn start_inetd(&mut self, rlogind: &Path) -> Result<(), String> {
        let script = r#"set -eu
for f in passwd shadow group hosts pam.d; do mount --bind "$1/$f" "/etc/$f"; done
exec python3 "$2" "$3" "$4" "$5""#;
        let mut child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns,
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                script,
                "sh",
            ])
            .arg(self.dir.path())
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mini_inetd.py"))
            .arg(RLOGIN_PORT.to_string())
            .arg(rlogind)
            .arg(self.ns_ip.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("ip netns exec: {e}"))?;
        let stdout = child.stdout.take().ok_or("inetd stdout")?;
        let mut out = BufReader::new(stdout);
        let mut line = String::new();
        let read = out.read_line(&mut line);
        self.inetd = Some((child, out));
        match read {
            Ok(_) if line.trim() == "listening" => Ok(()),
            Ok(_) => Err(format!("mini_inetd in {} did not start: {line:?}", self.ns)),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Stop the inetd and return what it printed: one `connection from HOST:PORT` a connection.
    pub fn stop_and_log(&mut self) -> String {
        let mut log = String::new();
        if let Some((mut child, mut out)) = self.inetd.take() {
            let _ = child.kill();
            let _ = child.wait();
            let _ = out.read_to_string(&mut log);
        }
        log
    }
}

impl Drop for RlogindSandbox {
    fn drop(&mut self) {
        self.stop_and_log();
        // Every process left in the namespace (rlogind sessions, their shells), then the
        // namespace itself; the veth goes with it. The directory goes with `dir`.
        if let Ok(out) = Command::new("ip").args(["netns", "pids", &self.ns]).output() {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let _ = Command::new("ip").args(["link", "del", &self.host_if]).stderr(Stdio::null()).status();
    }
}
