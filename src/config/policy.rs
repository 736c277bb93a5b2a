//! Policy files of protocol.md §10 (router `--exit-policy`, onion proxy `--policy`): rules (see
//! `rule.rs`), first match wins, no match rejects; and the built-in policies.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use crate::wire::Protocol;

use super::rule::{parse_rule, Action, AddrPattern, Rule};
use super::{lines, read, ConfigError};

/// An ordered list of rules; the first rule matching a destination decides, and a destination
/// no rule matches is rejected.
///
/// IPv4-mapped IPv6 destinations (`::ffff:a.b.c.d`) are matched as the IPv4 address they carry,
/// so `[::ffff:127.0.0.1]` cannot slip past a rule for 127.0.0.0/8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub rules: Vec<Rule>,
}

impl Policy {
    /// Read a policy file.
    pub fn parse_file(path: &Path) -> Result<Policy, ConfigError> {
        Policy::parse_str(&read(path)?, &path.display().to_string())
    }

    /// Parse policy rules from `text`; `origin` names the file in errors. An empty policy is
    /// valid and rejects everything.
    pub fn parse_str(text: &str, origin: &str) -> Result<Policy, ConfigError> {
        let mut rules = Vec::new();
        for (line, words) in lines(text) {
            let rule = parse_rule(&words).map_err(|p| ConfigError::at(origin, line, p))?;
            rules.push(rule);
        }
        Ok(Policy { rules })
    }

    /// protocol.md §9's default exit policy: reject 0.0.0.0/8, 127.0.0.0/8, 10.0.0.0/8, 172.16.0.0/12,
    /// 192.168.0.0/16 and 169.254.0.0/16 — and, beyond the IPv4 list of protocol.md §9.2, the IPv6
    /// unspecified (`::/128`), loopback (`::1/128`), link-local (`fe80::/10`) and unique-local
    /// (`fc00::/7`) addresses — then accept everything else.
    pub fn default_exit() -> Policy {
        let v4 = |a, b, c, d, bits| AddrPattern::V4 { net: Ipv4Addr::new(a, b, c, d), bits };
        let v6 = |net: u128, bits| AddrPattern::V6 { net: Ipv6Addr::from(net), bits };
        let mut rules: Vec<Rule> = [
            v4(0, 0, 0, 0, 8),
            v4(127, 0, 0, 0, 8),
            v4(10, 0, 0, 0, 8),
            v4(172, 16, 0, 0, 12),
            v4(192, 168, 0, 0, 16),
            v4(169, 254, 0, 0, 16),
            v6(0, 128),
            v6(1, 128),
            v6(0xfe80 << 112, 10),
            v6(0xfc00 << 112, 7),
        ]
        .into_iter()
        .map(|addr| Rule::any(Action::Reject, addr))
        .collect();
        rules.push(Rule::any(Action::Accept, AddrPattern::Any));
        Policy { rules }
    }

    /// `accept *:*`.
    pub fn accept_all() -> Policy {
        Policy { rules: vec![Rule::any(Action::Accept, AddrPattern::Any)] }
    }

    /// Accept only loopback destinations (127.0.0.0/8 and ::1), any port: for testbeds.
    pub fn loopback_only() -> Policy {
        let v4 = AddrPattern::V4 { net: Ipv4Addr::LOCALHOST, bits: 8 };
        let v6 = AddrPattern::V6 { net: Ipv6Addr::LOCALHOST, bits: 128 };
        Policy { rules: vec![Rule::any(Action::Accept, v4), Rule::any(Action::Accept, v6)] }
    }

    /// Whether a connection to `ip`:`port` for `proto` is allowed.
    pub fn allows(&self, ip: IpAddr, port: u16, proto: Protocol) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            IpAddr::V4(_) => ip,
        };
        let rule = self.rules.iter().find(|r| r.matches(ip, port, proto));
        rule.is_some_and(|r| r.action == Action::Accept)
    }

    /// Whether the exit may answer a resolve (protocol 5) with `ip`: only rules whose port part
    /// is `*` can match a resolve (it has no port); the first such rule matching the address and
    /// `proto=resolve` (or no `proto=`) decides.
    pub fn allows_resolve(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            IpAddr::V4(_) => ip,
        };
        let rule = self.rules.iter().find(|r| r.ports == super::rule::ANY_PORT && r.matches(ip, 0, Protocol::Resolve));
        rule.is_some_and(|r| r.action == Action::Accept)
    }

    /// Whether a destination given by name (never resolved here) is allowed: only rules whose
    /// address is `*` can match it; the first such rule that matches port and protocol decides.
    pub fn allows_any_address(&self, port: u16, proto: Protocol) -> bool {
        let rule = self.rules.iter().find(|r| {
            r.addr == super::rule::AddrPattern::Any && r.ports.contains(&port) && r.proto.map_or(true, |p| p == proto)
        });
        rule.is_some_and(|r| r.action == Action::Accept)
    }
}

/// The policy in policy-file syntax, one rule a line.
impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.rules.iter().try_for_each(|rule| writeln!(f, "{rule}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Protocol::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn policy(text: &str) -> Policy {
        Policy::parse_str(text, "policy.txt").unwrap()
    }

    #[test]
    fn first_match_wins_and_no_match_rejects() {
        let p = policy(
            "# testbed\nreject 127.0.0.1:22\naccept 127.0.0.0/8:1-1024 proto=http\n\
             accept 10.1.2.3 proto=smtp\naccept [2001:db8::]/32:443\n",
        );
        assert!(!p.allows(ip("127.0.0.1"), 22, Http));
        assert!(p.allows(ip("127.0.0.1"), 80, Http));
        assert!(p.allows(ip("127.9.9.9"), 1024, Http));
        assert!(!p.allows(ip("127.0.0.1"), 1025, Http));
        assert!(!p.allows(ip("127.0.0.1"), 80, Tcp));
        assert!(p.allows(ip("10.1.2.3"), 25, Smtp) && p.allows(ip("10.1.2.3"), 9999, Smtp));
        assert!(!p.allows(ip("10.1.2.4"), 25, Smtp));
        assert!(p.allows(ip("2001:db8:1::5"), 443, Tcp));
        assert!(!p.allows(ip("2001:db9::5"), 443, Tcp));
        assert!(!policy("").allows(ip("1.2.3.4"), 80, Http));
    }

    #[test]
    fn resolves_match_only_any_port_rules() {
        let p = policy("reject 127.0.0.1:80\naccept 127.0.0.0/8:53\naccept 127.0.0.0/8 proto=resolve\nreject *:*\n");
        assert!(p.allows_resolve(ip("127.0.0.1")), "port rules are skipped for a resolve");
        assert!(p.allows_resolve(ip("::ffff:127.0.0.2")));
        assert!(!p.allows_resolve(ip("10.0.0.1")));
        assert!(!policy("accept *:1-65535\n").allows_resolve(ip("1.2.3.4")));
        assert!(!policy("accept * proto=tcp\n").allows_resolve(ip("1.2.3.4")));
        let d = Policy::default_exit();
        assert!(!d.allows_resolve(ip("127.0.0.1")) && !d.allows_resolve(ip("192.168.1.1")));
        assert!(!d.allows_resolve(ip("::1")) && d.allows_resolve(ip("93.184.216.34")));
    }

    #[test]
    fn default_exit_refuses_local_destinations() {
        let p = Policy::default_exit();
        for refused in [
            "0.1.2.3",
            "127.0.0.1",
            "10.9.8.7",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "::",
            "::1",
            "fe80::1",
            "fd00::1",
            "fc00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!p.allows(ip(refused), 80, Http), "{refused}");
        }
        for allowed in ["1.1.1.1", "172.32.0.1", "192.169.0.1", "2001:db8::1", "::ffff:8.8.8.8"] {
            assert!(p.allows(ip(allowed), 443, Tcp), "{allowed}");
        }
    }

    #[test]
    fn helpers() {
        assert!(Policy::accept_all().allows(ip("127.0.0.1"), 1, Rlogin));
        let lo = Policy::loopback_only();
        assert!(lo.allows(ip("127.0.0.1"), 8080, Http) && lo.allows(ip("::1"), 25, Smtp));
        assert!(!lo.allows(ip("192.0.2.1"), 80, Http) && !lo.allows(ip("::2"), 80, Http));
    }

    #[test]
    fn round_trips_through_display() {
        let p = policy("accept *\naccept 1.2.3.4/32:80-90 proto=smtp\nreject [fe80::]/10:443");
        assert_eq!(Policy::parse_str(&p.to_string(), "x").unwrap(), p);
        let d = Policy::default_exit();
        assert_eq!(Policy::parse_str(&d.to_string(), "x").unwrap(), d);
        assert!(d.to_string().starts_with("reject 0.0.0.0/8:*\nreject 127.0.0.0/8:*\n"));
    }

    #[test]
    fn errors_name_file_line_and_problem() {
        let e = Policy::parse_str("accept *:*\n\nallow *:*\n", "exit.txt").unwrap_err();
        assert_eq!(
            e.to_string(),
            "exit.txt:3: unknown action \"allow\": expected accept|reject \
                                   ADDR[/BITS][:PORT[-PORT]] [proto=rlogin|http|smtp|tcp]"
        );
        let e = Policy::parse_str("# x\nreject 10.1.0.0/8", "exit.txt").unwrap_err();
        assert!(e.to_string().starts_with("exit.txt:2: \"10.1.0.0/8\" has bits set"), "{e}");
        let e = Policy::parse_file(Path::new("/nonexistent/exit.txt")).unwrap_err();
        assert!(e.to_string().starts_with("/nonexistent/exit.txt: cannot read"), "{e}");
    }
}
