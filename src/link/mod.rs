//! Links between routers (protocol.md §1, §3), sans-IO: STS keying in Oakley group 2 with RSA
//! signatures, then link encryption of cells with one DES-OFB keystream per direction.
//!
//! A link starts with a [`Dialler`] or [`Listener`]; its [`Established`] result carries the
//! peer's identity and the [`LinkCodec`] that turns cells into wire bytes and back.
//!
//! [`LinkEnd`] is the one link machine every role uses (router, onion proxy uplink, stand-alone
//! funnel): keying, codec, PADDING keepalive, liveness, the handshake deadline, ACIs of its half
//! and their DESTROY handshake. [`Uplink`] adds dialling and redial backoff for an anonymous
//! client; [`Redial`] is the backoff a router's lower neighbours share with it. Sockets stay
//! with the caller.

pub mod aci;
pub mod backoff;
pub mod backpressure;
pub mod codec;
pub mod dh;
pub mod end;
pub mod handshake;
pub mod loss;
pub mod redial;
pub mod timeout_log;
pub mod uplink;

pub use codec::{LinkCodec, LinkError};
pub use dh::{BadPublicValue, DH_LEN};
pub use end::{DestroyIn, Keyed, LinkEnd, LinkTimers, Upkeep};
pub use handshake::{Dialler, Established, HandshakeError, Listener, PeerIdentity, Progress};
pub use loss::LinkLoss;
pub use redial::Redial;
pub use timeout_log::TimeoutLog;
pub use uplink::{Uplink, UplinkEvent};

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
