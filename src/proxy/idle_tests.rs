//! The application proxies' idle timeouts, driven through [`ProxyCore`] with virtual time:
//! HTTP closes a keep-alive client silent for 60 s between requests, SMTP a session silent for
//! 5 minutes, RLOGIN never while its anonymous connection is up.

use std::net::SocketAddr;
use std::time::Duration;

use super::driver::ProxyCore;
use super::{HttpConfig, HttpSession, RloginSession, SmtpConfig, SmtpSession, RLOGIN_PORT};
use crate::event::{Action, Core, Now};

fn closes(actions: &[Action], sock: crate::event::SockId) -> bool {
    actions.iter().any(|a| matches!(a, Action::Close { sock: s } if *s == sock))
}

fn drain(core: &mut impl Core) -> Vec<Action> {
    std::iter::from_fn(|| core.poll_action()).collect()
}

/// Accept one client at `t0`, then tick at `t0 + quiet` and `t0 + late`: whether it was closed
/// at each.
fn closed_at(mut core: impl Core, quiet: Duration, late: Duration) -> (bool, bool) {
    let t0 = Now::new(std::time::Instant::now(), 1_900_000_000);
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let sock = core.accepted(t0, 0, peer).expect("accepted");
    drain(&mut core);
    core.tick(t0.after(quiet));
    let early = closes(&drain(&mut core), sock);
    core.tick(t0.after(late));
    let later = closes(&drain(&mut core), sock);
    (early, later)
}

#[test]
fn http_closes_a_silent_keep_alive_client_after_60_s() {
    let op: SocketAddr = "127.0.0.1:9050".parse().unwrap();
    let core = ProxyCore::new("http-proxy", op, || HttpSession::new(HttpConfig::default()));
    assert_eq!(core.poll_timeout(), None, "no client, no timer");
    let got = closed_at(core, Duration::from_secs(59), Duration::from_secs(61));
    assert_eq!(got, (false, true));
}

#[test]
fn smtp_closes_a_silent_session_after_5_minutes() {
    let op: SocketAddr = "127.0.0.1:9050".parse().unwrap();
    let core = ProxyCore::new("smtp-proxy", op, || SmtpSession::new(SmtpConfig::new("p.example")));
    let got = closed_at(core, Duration::from_secs(299), Duration::from_secs(301));
    assert_eq!(got, (false, true));
}

#[test]
fn rlogin_has_no_idle_timeout() {
    let op: SocketAddr = "127.0.0.1:9050".parse().unwrap();
    let core = ProxyCore::new("rlogin-proxy", op, || RloginSession::new(RLOGIN_PORT));
    let got = closed_at(core, Duration::from_secs(60), Duration::from_secs(24 * 3600));
    assert_eq!(got, (false, false));
}
