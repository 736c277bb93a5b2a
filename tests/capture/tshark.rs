//! tshark as the tests' packet recorder: a capture of TCP on one interface (on the host's
//! loopback or inside a network namespace a test made) into a pcap file, stopped with SIGINT so
//! the file is complete, and killed on drop when a test fails first.

use std::io::{BufRead, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Tshark(Option<Child>);

impl Tshark {
    /// Capture TCP on `lo` for `ports` into `file` (pcap), once tshark says it is capturing.
    pub fn start(file: &Path, ports: &[u16]) -> Tshark {
        let filter = ports.iter().map(|p| format!("tcp port {p}")).collect::<Vec<_>>().join(" or ");
        Tshark::start_on(None, "lo", file, &filter)
    }

    /// Capture what `filter` (a capture filter) selects on `iface` into `file` (pcap), inside
    /// the network namespace `netns` when given.
    pub fn start_on(netns: Option<&str>, iface: &str, file: &Path, filter: &str) -> Tshark {
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "tshark"]);
                c
            }
            None => Command::new("tshark"),
        };
        let mut child = cmd
            .args(["-i", iface, "-F", "pcap", "-B", "64", "-q", "-f", filter, "-w"])
            .arg(file)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start tshark");
        let mut err = std::io::BufReader::new(child.stderr.take().expect("stderr"));
        let mut line = String::new();
        while err.read_line(&mut line).expect("tshark stderr") > 0 && !line.contains("Capturing on") {
            line.clear();
        }
        let tshark = Tshark(Some(child)); // killed on drop if the assertion below fails
        assert!(line.contains("Capturing on"), "tshark did not start capturing on {iface}");
        // The filter takes a moment after the banner; a link whose SYN is missed cannot be read.
        std::thread::sleep(Duration::from_secs(2));
        std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = err.read_to_string(&mut rest);
            if rest.contains("dropped") {
                eprintln!("tshark: {rest}");
            }
        });
        tshark
    }

    pub fn stop(mut self) {
        if let Some(mut child) = self.0.take() {
            // SAFETY: kill(2) on our own child's pid; SIGINT lets tshark flush the file.
            unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
            let _ = child.wait();
        }
    }
}

impl Drop for Tshark {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

pub fn has(cmd: &str) -> bool {
    let found = Command::new("sh").arg("-c").arg(format!("command -v {cmd}")).stdout(Stdio::null()).status();
    found.map(|s| s.success()).unwrap_or(false)
}
