//! Links between routers (protocol.md §1, §3), sans-IO: STS keying in Oakley group 2 with RSA
//! signatures, then link encryption of cells with one DES-OFB keystream per direction.
//!
//! A link starts with a [`Dialler`] or [`Listener`]; its [`Established`] result carries the
//! peer's identity and the [`LinkCodec`] that turns cells into wire bytes and back. Sockets,
//! the 10 s handshake timeout and closing the link on an error belong to the caller.

pub mod codec;
pub mod dh;
pub mod handshake;

pub use codec::{LinkCodec, LinkError};
pub use dh::{BadPublicValue, DH_LEN};
pub use handshake::{Dialler, Established, HandshakeError, Listener, PeerIdentity, Progress};

use std::net::SocketAddrV4;

use crate::crypto::RsaPublicKey;

/// Either side of the STS handshake, for callers that hold both kinds in one table.
pub enum Handshake {
    Dialler(Box<Dialler>),
    Listener(Box<Listener>),
}

impl Handshake {
    /// Feed received bytes; the listener looks up a dialler's key by its identity.
    pub fn read(
        &mut self,
        input: &[u8],
        lookup_key: &dyn Fn(SocketAddrV4) -> Option<RsaPublicKey>,
    ) -> Result<Progress, HandshakeError> {
        match self {
            Handshake::Dialler(d) => d.read(input),
            Handshake::Listener(l) => l.read(input, lookup_key),
        }
    }

    /// Why the handshake is not finished (for the timeout or EOF log line).
    pub fn incomplete(&self) -> HandshakeError {
        match self {
            Handshake::Dialler(d) => d.incomplete(),
            Handshake::Listener(l) => l.incomplete(),
        }
    }
}
