//! **[ork]** Protocol 5 at the exit funnel (docs/socks.md): resolve the host without connecting,
//! apply the exit policy to the answer (only `*`-port rules match a resolve), then send status 0
//! alone, one DATA cell with the address as ASCII, and end of stream — Length 0, or DESTROY when
//! the client has already ended its side.

use std::net::{IpAddr, SocketAddr};

use log::debug;

use crate::event::Now;
use crate::router::conn_table::ConnId;
use crate::router::core::Router;
use crate::router::exit_funnel::ExitState;
use crate::wire::Status;

/// The address a resolve answers with: the first IPv4 address, else the first IPv6 address.
pub(crate) fn pick_answer(addrs: &[SocketAddr]) -> Option<IpAddr> {
    let v4 = addrs.iter().find(|a| a.is_ipv4());
    v4.or_else(|| addrs.first()).map(|a| a.ip())
}

/// The answer's text: dotted IPv4, or IPv6 without brackets (an IPv4-mapped IPv6 address is
/// answered as the IPv4 address it carries, as the policy saw it).
pub(crate) fn answer_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or_else(|| v6.to_string(), |v4| v4.to_string()),
        IpAddr::V4(v4) => v4.to_string(),
    }
}

impl Router {
    /// The host of a resolve is known (an IP literal answers itself): check the policy, answer.
    pub(super) fn resolve_answer(&mut self, now: Now, id: ConnId, addrs: &[SocketAddr]) {
        let Some(ip) = pick_answer(addrs) else {
            return self.exit_status(now, id, Status::BadAddress);
        };
        if !self.cfg.exit_policy.allows_resolve(ip) {
            debug!("exit: resolve answer {ip} refused by the exit policy");
            return self.exit_status(now, id, Status::Policy);
        }
        let Some(exit) = self.exit_mut(id) else { return };
        exit.state = ExitState::Resolved;
        exit.early.clear();
        let client_ended = exit.got_eof;
        exit.sent_eof = true;
        debug!("exit: resolve answered");
        self.exit_status(now, id, Status::Ok);
        self.exit_send_back(now, id, answer_text(ip).as_bytes());
        if client_ended {
            self.destroy_connection(now, id, None);
        } else {
            self.exit_send_back(now, id, &[]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        SocketAddr::new(s.parse().unwrap(), 0)
    }

    #[test]
    fn first_ipv4_else_first_ipv6() {
        assert_eq!(pick_answer(&[sa("::1"), sa("10.0.0.1"), sa("10.0.0.2")]), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(pick_answer(&[sa("2001:db8::2"), sa("::1")]), Some("2001:db8::2".parse().unwrap()));
        assert_eq!(pick_answer(&[]), None);
        assert_eq!(answer_text("2001:db8::1".parse().unwrap()), "2001:db8::1");
        assert_eq!(answer_text("::ffff:1.2.3.4".parse().unwrap()), "1.2.3.4");
    }
}
