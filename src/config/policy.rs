//! Policy files (router `--exit-policy`, onion proxy `--policy`): rules (see `rule.rs`), first
//! match wins, no match rejects; the exit's extra condition for RLOGIN; the built-in policies.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use crate::wire::Protocol;

use super::rule::{parse_rule, Action, AddrPattern, Rule};
use super::{lines, read, ConfigError};

/// An ordered list of rules; the first rule matching a destination decides, and a destination
/// no rule matches is rejected.
///
/// An IPv4-mapped IPv6 destination (`::ffff:a.b.c.d`) is matched by IPv6 rules as itself and by
/// IPv4 rules as the IPv4 address it carries (see [`Rule::matches`]): `[::ffff:127.0.0.1]`
/// cannot slip past a rule for 127.0.0.0/8, and the default exit policy's `[::ffff:0:0]/96`
/// rejects every such address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub rules: Vec<Rule>,
}

/// The only destination port the exit connects to from a privileged source port (rlogin).
pub const RLOGIN_PORT: u16 = 513;

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

    /// The default exit policy with no own addresses known; see [`Policy::default_exit_for`].
    pub fn default_exit() -> Policy {
        Policy::default_exit_for(&[])
    }

    /// The default exit policy of a router whose own addresses (its `--address` and every
    /// address of its interfaces) are `own`: reject `proto=rlogin`, reject each own address,
    /// reject 0.0.0.0/8, 127.0.0.0/8, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16,
    /// 169.254.0.0/16, `[::]/128`, `[::1]/128`, `[fc00::]/7`, `[fe80::]/10` and
    /// `[::ffff:0:0]/96`, then accept everything else.
    pub fn default_exit_for(own: &[IpAddr]) -> Policy {
        let v4 = |a, b, c, d, bits| AddrPattern::V4 { net: Ipv4Addr::new(a, b, c, d), bits };
        let v6 = |net: u128, bits| AddrPattern::V6 { net: Ipv6Addr::from(net), bits };
        let mut rules = vec![Rule { proto: Some(Protocol::Rlogin), ..Rule::any(Action::Reject, AddrPattern::Any) }];
        let mut own_rules: Vec<AddrPattern> = Vec::new();
        for ip in own {
            let pattern = match *ip {
                IpAddr::V4(net) => AddrPattern::V4 { net, bits: 32 },
                IpAddr::V6(net) => AddrPattern::V6 { net, bits: 128 },
            };
            if !own_rules.contains(&pattern) {
                own_rules.push(pattern);
            }
        }
        let ranges = [
            v4(0, 0, 0, 0, 8),
            v4(127, 0, 0, 0, 8),
            v4(10, 0, 0, 0, 8),
            v4(172, 16, 0, 0, 12),
            v4(192, 168, 0, 0, 16),
            v4(169, 254, 0, 0, 16),
            v6(0, 128),
            v6(1, 128),
            v6(0xfc00 << 112, 7),
            v6(0xfe80 << 112, 10),
            v6(0xffff << 32, 96),
        ];
        rules.extend(own_rules.into_iter().chain(ranges).map(|addr| Rule::any(Action::Reject, addr)));
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

    /// Whether a connection to `ip`:`port` for `proto` is allowed: the first matching rule
    /// accepts.
    pub fn allows(&self, ip: IpAddr, port: u16, proto: Protocol) -> bool {
        self.deciding_rule(ip, port, proto).is_some_and(|r| r.action == Action::Accept)
    }

    /// The rule that decides a destination, if any matches.
    pub fn deciding_rule(&self, ip: IpAddr, port: u16, proto: Protocol) -> Option<&Rule> {
        self.rules.iter().find(|r| r.matches(ip, port, proto))
    }

    /// The exit funnel's decision: [`Policy::allows`], except that protocol 1 (RLOGIN, which
    /// gets a privileged source port) is allowed only to port 513 and only when the deciding
    /// rule is an accept that names `proto=rlogin` explicitly — `accept *:*` is not enough.
    pub fn allows_exit(&self, ip: IpAddr, port: u16, proto: Protocol) -> bool {
        if proto != Protocol::Rlogin {
            return self.allows(ip, port, proto);
        }
        port == RLOGIN_PORT
            && self
                .deciding_rule(ip, port, proto)
                .is_some_and(|r| r.action == Action::Accept && r.proto == Some(Protocol::Rlogin))
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
            "::ffff:8.8.8.8",
            "::ffff:192.0.2.2",
        ] {
            assert!(!p.allows_exit(ip(refused), 80, Http), "{refused}");
        }
        for allowed in ["1.1.1.1", "172.32.0.1", "192.169.0.1", "2001:db8::1", "192.0.2.2"] {
            assert!(p.allows_exit(ip(allowed), 443, Tcp), "{allowed}");
        }
        // RLOGIN is refused by default, even to port 513 of an address otherwise allowed.
        assert!(!p.allows_exit(ip("1.1.1.1"), 513, Rlogin));
        // The router's own addresses, whatever the range.
        let own = Policy::default_exit_for(&[ip("192.0.2.2"), ip("2001:db8::2"), ip("192.0.2.2")]);
        assert!(!own.allows_exit(ip("192.0.2.2"), 80, Tcp) && !own.allows_exit(ip("2001:db8::2"), 80, Tcp));
        assert!(own.allows_exit(ip("192.0.2.3"), 80, Tcp) && own.allows_exit(ip("2001:db8::3"), 80, Tcp));
        assert_eq!(own.rules.len(), p.rules.len() + 2, "own addresses once each");
    }

    #[test]
    fn rlogin_needs_port_513_and_an_explicit_rule() {
        let p = policy("accept 127.0.0.0/8:513 proto=rlogin\naccept 127.0.0.0/8:*\naccept [::1]:*\n");
        assert!(p.allows_exit(ip("127.0.0.1"), 513, Rlogin));
        assert!(!p.allows_exit(ip("127.0.0.1"), 514, Rlogin), "only port 513");
        assert!(!p.allows_exit(ip("::1"), 513, Rlogin), "accept [::1]:* is not explicit");
        assert!(p.allows_exit(ip("::1"), 513, Http) && p.allows(ip("::1"), 513, Rlogin));
        let wide = policy("accept *:* proto=rlogin");
        assert!(!wide.allows_exit(ip("127.0.0.1"), 22, Rlogin), "an explicit rule for other ports");
        assert!(!Policy::accept_all().allows_exit(ip("127.0.0.1"), 513, Rlogin));
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
        assert!(d.to_string().starts_with("reject *:* proto=rlogin\nreject 0.0.0.0/8:*\nreject 127.0.0.0/8:*\n"));
        assert!(d.to_string().ends_with("reject [::ffff:0.0.0.0]/96:*\naccept *:*\n"), "{d}");
    }

    #[test]
    fn errors_name_file_line_and_problem() {
        let e = Policy::parse_str("accept *:*\n\nallow *:*\n", "exit.txt").unwrap_err();
        assert_eq!(
            e.to_string(),
            "exit.txt:3: unknown action \"allow\": expected accept|reject \
                                   ADDR[/BITS][:PORT[-PORT]] [proto=rlogin|http|smtp|tcp|resolve|reply]"
        );
        let e = Policy::parse_str("# x\nreject 10.1.0.0/8", "exit.txt").unwrap_err();
        assert!(e.to_string().starts_with("exit.txt:2: \"10.1.0.0/8\" has bits set"), "{e}");
        let e = Policy::parse_file(Path::new("/nonexistent/exit.txt")).unwrap_err();
        assert!(e.to_string().starts_with("/nonexistent/exit.txt: cannot read"), "{e}");
    }
}
