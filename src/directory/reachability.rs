//! The authority's reachability check: connect to the address a descriptor claims and complete
//! the STS handshake (protocol.md §3) as an anonymous client, expecting the descriptor's key. An
//! address that answers with another key fails the listener's signature check.
//!
//! The check is a dialling [`LinkEnd`], the link machine every role shares: it is keyed by the
//! same code a router or an onion proxy keys its links with, and decided once the router's
//! answer (message 2) verifies or fails.

use std::net::{SocketAddr, SocketAddrV4};
use std::time::Instant;

use rand::{CryptoRng, RngCore};
use rsa::RsaPublicKey;

use super::authority::CheckFailure;
use crate::link::{HandshakeError, LinkEnd};

/// One check in progress.
pub struct ReachabilityCheck {
    end: LinkEnd,
}

impl ReachabilityCheck {
    /// Start a check of `addr` with `key`: the machine and the bytes to send once connected.
    pub fn start(
        now: Instant,
        addr: SocketAddrV4,
        key: RsaPublicKey,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<(ReachabilityCheck, Vec<u8>), CheckFailure> {
        let mut end = LinkEnd::dialling(SocketAddr::V4(addr), None, now);
        end.connected(now, None, addr, key, rng)
            .map_err(|loss| CheckFailure::Handshake(format!("cannot start keying: {loss}")))?;
        let msg1 = end.take_output().unwrap_or_default();
        Ok((ReachabilityCheck { end }, msg1))
    }

    /// Bytes from the router: `Some` once the check is decided.
    pub fn read(&mut self, now: Instant, data: &[u8]) -> Option<Result<(), CheckFailure>> {
        let mut cells = Vec::new();
        match self.end.received(now, data, &|_| None, &mut cells) {
            Ok(Some(_)) => Some(Ok(())),
            Ok(None) => None,
            Err(loss) => Some(Err(match self.end.handshake_error() {
                Some(HandshakeError::BadSignature { .. }) => CheckFailure::WrongKey,
                Some(e) => CheckFailure::Handshake(e.to_string()),
                None => CheckFailure::Handshake(loss.to_string()),
            })),
        }
    }

    /// The router closed before the handshake completed.
    pub fn closed(&self) -> CheckFailure {
        CheckFailure::Handshake("closed before the handshake completed".into())
    }
}
