//! The onion proxy's backpressure toward its uplink: reading the uplink pauses when any
//! application's socket is above the high-water mark and resumes only once none is.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::{OnionProxy, OnionProxyConfig};
use crate::config::network::{Network, RouterEntry};
use crate::config::policy::Policy;
use crate::crypto::{rsa_block, CipherCode};
use crate::event::{Action, Core, Now, SockId};
use crate::link::backpressure::{HIGH_WATER, LOW_WATER};

fn proxy(now: Now) -> OnionProxy {
    let key = rsa_block::generate(&mut StdRng::seed_from_u64(1)).expect("key").to_public_key();
    let network = Network {
        routers: vec![RouterEntry {
            name: "r1".into(),
            addr: "127.0.0.1:9001".parse().unwrap(),
            key,
            key_path: "r1.pub".into(),
        }],
        links: Vec::new(),
    };
    let cfg = OnionProxyConfig {
        network,
        entry: 0,
        via: None,
        hops: 1,
        policy: Policy::accept_all(),
        allow_from: vec![("127.0.0.0".parse().unwrap(), 8)],
        forw: CipherCode::Aes128Ctr,
        back: CipherCode::Aes128Ctr,
        expires: Duration::from_secs(60),
        link_wait: Duration::from_secs(10),
    };
    OnionProxy::with_rng(cfg, now, StdRng::seed_from_u64(2))
}

/// The uplink actions (pause/resume) among what the proxy asks for.
fn uplink_flow(op: &mut OnionProxy, up: SockId) -> Vec<&'static str> {
    std::iter::from_fn(|| op.poll_action())
        .filter_map(|a| match a {
            Action::PauseRead { sock } if sock == up => Some("pause"),
            Action::ResumeRead { sock } if sock == up => Some("resume"),
            _ => None,
        })
        .collect()
}

#[test]
fn uplink_resumes_only_when_no_application_is_above_high_water() {
    let now = Now::new(Instant::now(), 1_900_000_000);
    let mut op = proxy(now);
    op.tick(now);
    let up = op.uplink.sock().expect("uplink dialled");
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let a = op.accepted(now, 0, peer).unwrap();
    let b = op.accepted(now, 0, peer).unwrap();
    while op.poll_action().is_some() {}
    op.write_buffered(now, a, HIGH_WATER);
    assert_eq!(uplink_flow(&mut op, up), ["pause"]);
    op.write_buffered(now, b, HIGH_WATER + 1);
    assert!(uplink_flow(&mut op, up).is_empty(), "already paused");
    op.write_buffered(now, a, LOW_WATER);
    assert!(uplink_flow(&mut op, up).is_empty(), "b is still above the high-water mark");
    op.write_buffered(now, b, 0);
    assert_eq!(uplink_flow(&mut op, up), ["resume"]);
    // A congested application that goes away releases the uplink too.
    op.write_buffered(now, a, HIGH_WATER);
    assert_eq!(uplink_flow(&mut op, up), ["pause"]);
    op.failed(now, a, std::io::ErrorKind::ConnectionReset.into());
    assert_eq!(uplink_flow(&mut op, up), ["resume"]);
}
