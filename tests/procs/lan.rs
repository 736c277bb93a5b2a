//! A small LAN of network namespaces made by a test (root only): one namespace holding a bridge,
//! and one namespace per host joined to it by a veth pair, each host with its own IPv4 address
//! on `eth0` and loopback up. Nothing touches the host's own interfaces; every namespace (and
//! with it every veth) is deleted on drop, also when the test fails half-way.

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::wait_for;

pub struct Lan {
    /// The bridge's namespace (interface `br0`).
    pub bridge: String,
    /// `(name, namespace, address)` of each host.
    pub hosts: Vec<(String, String, Ipv4Addr)>,
    made: Vec<String>,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).stdout(Stdio::null()).output().expect("run ip (iproute2)");
    assert!(out.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

impl Lan {
    /// Namespaces `PREFIX-br` and `PREFIX-NAME` for each `(NAME, address)` on one /24.
    pub fn new(prefix: &str, hosts: &[(&str, Ipv4Addr)]) -> Lan {
        let bridge = format!("{prefix}-br");
        let mut lan = Lan { bridge: bridge.clone(), hosts: Vec::new(), made: Vec::new() };
        ip(&["netns", "add", &bridge]);
        lan.made.push(bridge.clone());
        ip(&["-n", &bridge, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &bridge, "link", "set", "br0", "up"]);
        for (i, &(name, addr)) in hosts.iter().enumerate() {
            let ns = format!("{prefix}-{name}");
            ip(&["netns", "add", &ns]);
            lan.made.push(ns.clone());
            let port = format!("p{i}");
            ip(&["-n", &bridge, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns]);
            ip(&["-n", &bridge, "link", "set", &port, "master", "br0", "up"]);
            ip(&["-n", &ns, "addr", "add", &format!("{addr}/24"), "dev", "eth0"]);
            ip(&["-n", &ns, "link", "set", "eth0", "up"]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
            lan.hosts.push((name.to_string(), ns, addr));
        }
        lan
    }

    /// The namespace of host `name`.
    pub fn ns(&self, name: &str) -> &str {
        &self.hosts.iter().find(|h| h.0 == name).expect("a host of the LAN").1
    }

    /// The address of host `name`.
    pub fn addr(&self, name: &str) -> Ipv4Addr {
        self.hosts.iter().find(|h| h.0 == name).expect("a host of the LAN").2
    }

    /// `program` to be run on host `name` (`ip netns exec`, which execs it: the child is the program).
    pub fn command(&self, name: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", self.ns(name), program]);
        c
    }

    /// Wait (15 s at most) until something on host `name` listens on `addr:port`.
    pub fn wait_port(&self, name: &str, addr: &str, port: u16) {
        wait_for(&format!("{addr}:{port} on {name}"), Duration::from_secs(15), || {
            let probe = format!("exec 3<>/dev/tcp/{addr}/{port}");
            let st = self.command(name, "bash").args(["-c", &probe]).stderr(Stdio::null()).status();
            st.map(|s| s.success()).unwrap_or(false)
        });
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for ns in self.made.iter().rev() {
            let _ = Command::new("ip").args(["netns", "delete", ns]).status();
        }
    }
}
