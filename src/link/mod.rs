//! Links between routers (SPEC §1, §3), sans-IO: STS keying in Oakley group 2 with RSA
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
