//! A private OpenSSH server for process tests (Debian's openssh-server): its own host key and
//! the test's client key made with ssh-keygen in the test's directory, listening on a loopback
//! port, run in the foreground and killed when dropped; and `ssh` through a ProxyCommand.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::{free_port, wait_port};

pub struct Killer(pub Vec<Child>);
impl Drop for Killer {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn need(cmd: &str) {
    let ok = Command::new("sh").arg("-c").arg(format!("command -v {cmd}")).stdout(Stdio::null()).status();
    assert!(ok.map(|s| s.success()).unwrap_or(false), "{cmd} is missing: run scripts/test.sh, which installs it");
}

/// A private sshd on a loopback port: its own host key, the test's client key, run in the
/// foreground and killed at the end; everything lives in the test's directory.
pub struct Sshd {
    _proc: Killer,
    pub port: u16,
    pub key: std::path::PathBuf,
    pub known: std::path::PathBuf,
    pub user: String,
    _run_dir: Option<RunDir>,
}

/// /run/sshd (sshd's privilege-separation directory), removed again if the test made it.
struct RunDir;
impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir("/run/sshd");
    }
}

pub fn sshd(dir: &Path) -> Sshd {
    need("ssh");
    assert!(Path::new("/usr/sbin/sshd").exists(), "/usr/sbin/sshd missing: run scripts/test.sh (openssh-server)");
    let keygen = |path: &Path| {
        let st = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(path).status();
        assert!(st.map(|s| s.success()).unwrap_or(false), "ssh-keygen");
    };
    keygen(&dir.join("host_key"));
    keygen(&dir.join("client_key"));
    std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).expect("authorized_keys");
    let user = String::from_utf8(Command::new("id").arg("-un").output().expect("id").stdout)
        .expect("utf-8")
        .trim()
        .to_string();
    let port = free_port();
    let config = dir.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\nPidFile none\nUsePAM no\n\
             StrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n",
            dir.join("host_key").display(),
            dir.join("authorized_keys").display()
        ),
    )
    .expect("sshd_config");
    let run_dir = (!Path::new("/run/sshd").exists() && std::fs::create_dir("/run/sshd").is_ok()).then_some(RunDir);
    let child = Command::new("/usr/sbin/sshd")
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(&config)
        .stderr(Stdio::null())
        .spawn()
        .expect("sshd");
    let proc = Killer(vec![child]);
    wait_port(port);
    Sshd { _proc: proc, port, key: dir.join("client_key"), known: dir.join("known_hosts"), user, _run_dir: run_dir }
}

pub fn ssh(d: &Sshd, proxy_command: &str) -> (bool, String) {
    let out = Command::new("timeout")
        .arg("60")
        .args(["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", d.known.display()))
        .arg("-i")
        .arg(&d.key)
        .arg("-o")
        .arg(format!("ProxyCommand={proxy_command}"))
        .args(["-p", &d.port.to_string(), &format!("{}@localhost", d.user), "echo ORK_$((6*7))"])
        .output()
        .expect("ssh");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}
