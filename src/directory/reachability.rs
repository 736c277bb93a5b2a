//! The authority's reachability check: connect to the address a descriptor claims and complete
//! the STS handshake (protocol.md §3) as an anonymous client, expecting the descriptor's key. An
//! address that answers with another key fails the listener's signature check.
//!
//! A small seam over the existing sans-IO `link::handshake::Dialler`; when the shared link
//! machine (one link life cycle for every role) lands, this should drive that machine instead.

use std::net::SocketAddrV4;

use rand::{CryptoRng, RngCore};
use rsa::RsaPublicKey;

use super::authority::CheckFailure;
use crate::link::{Dialler, HandshakeError};

/// One check in progress.
pub struct ReachabilityCheck {
    dialler: Dialler,
}

impl ReachabilityCheck {
    /// Start a check of `addr` with `key`: the machine and the bytes to send once connected.
    pub fn start(
        addr: SocketAddrV4,
        key: RsaPublicKey,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<(ReachabilityCheck, Vec<u8>), CheckFailure> {
        let (dialler, msg1) = Dialler::new(None, addr, key, rng).map_err(|e| CheckFailure::Handshake(e.to_string()))?;
        Ok((ReachabilityCheck { dialler }, msg1))
    }

    /// Bytes from the router: `Some` once the check is decided.
    pub fn read(&mut self, data: &[u8]) -> Option<Result<(), CheckFailure>> {
        match self.dialler.read(data) {
            Ok(p) if p.established.is_some() => Some(Ok(())),
            Ok(_) => None,
            Err(HandshakeError::BadSignature { .. }) => Some(Err(CheckFailure::WrongKey)),
            Err(e) => Some(Err(CheckFailure::Handshake(e.to_string()))),
        }
    }

    /// The router closed before the handshake completed.
    pub fn closed(&self) -> CheckFailure {
        CheckFailure::Handshake(format!("closed early: {}", self.dialler.incomplete()))
    }
}
