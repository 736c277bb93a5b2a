//! The station-to-station handshake of protocol.md §3 as two sans-IO state machines, [`Dialler`] and
//! [`Listener`]: bytes in, bytes to send out, and at the end the peer's identity and a
//! [`LinkCodec`] whose engines have already crypted the handshake's signatures.
//!
//! ```text
//! 1. D→L  identity (IPv4 ‖ port, 6) ‖ g^x (128)
//! 2. L→D  g^y (128) ‖ E_K_LD(Sig_L(g^y ‖ g^x)) (128)
//! 3. D→L  E_K_DL(Sig_D(g^x ‖ g^y)) (128)      — omitted by anonymous clients (0.0.0.0:0)
//! ```
//!
//! No clock here: the caller must close a link whose handshake has not completed within
//! 10 s (protocol.md §3), logging [`Dialler::incomplete`] / [`Listener::incomplete`] with the peer's
//! address. The caller must also send [`Progress::send`] before anything the codec encodes.

use std::net::{Ipv4Addr, SocketAddrV4};

use rand::{CryptoRng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rsa::{Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use sha1::{Digest, Sha1};
use thiserror::Error;
use zeroize::Zeroizing;

use super::codec::LinkCodec;
use super::dh::{BadPublicValue, DH_LEN};
use crate::crypto::rsa_block::RSA_BLOCK_LEN;

mod dialler;
mod listener;

pub use dialler::Dialler;
pub use listener::Listener;

/// Bytes of a link identity: IPv4 ‖ port.
pub const IDENTITY_LEN: usize = 6;
/// Bytes of a signature (1024-bit RSA).
pub const SIG_LEN: usize = RSA_BLOCK_LEN;
/// Message 1: identity ‖ g^x.
pub const MSG1_LEN: usize = IDENTITY_LEN + DH_LEN;
/// Message 2: g^y ‖ E(Sig_L).
pub const MSG2_LEN: usize = DH_LEN + SIG_LEN;
/// Message 3: E(Sig_D).
pub const MSG3_LEN: usize = SIG_LEN;

/// Who is at the other end of an established link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerIdentity {
    /// A router (or stand-alone funnel) proven by its signature: its listening address.
    Router(SocketAddrV4),
    /// An anonymous client (identity 0.0.0.0:0): onion proxy or stand-alone funnel.
    Anonymous,
}

impl PeerIdentity {
    /// The 6 identity bytes of message 1.
    pub fn to_bytes(self) -> [u8; IDENTITY_LEN] {
        let addr = match self {
            PeerIdentity::Router(a) => a,
            PeerIdentity::Anonymous => SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
        };
        let mut out = [0u8; IDENTITY_LEN];
        out[..4].copy_from_slice(&addr.ip().octets());
        out[4..].copy_from_slice(&addr.port().to_be_bytes());
        out
    }

    /// Parse the 6 identity bytes; exactly 0.0.0.0:0 is anonymous.
    pub fn from_bytes(b: &[u8; IDENTITY_LEN]) -> PeerIdentity {
        let addr = SocketAddrV4::new(Ipv4Addr::new(b[0], b[1], b[2], b[3]), u16::from_be_bytes([b[4], b[5]]));
        if addr.ip().is_unspecified() && addr.port() == 0 {
            PeerIdentity::Anonymous
        } else {
            PeerIdentity::Router(addr)
        }
    }
}

impl std::fmt::Display for PeerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerIdentity::Router(a) => write!(f, "{a}"),
            PeerIdentity::Anonymous => f.write_str("anonymous client"),
        }
    }
}

/// Why a handshake failed. Every variant is fatal: close the socket and log it with the
/// peer's address.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HandshakeError {
    #[error("STS message 1: identity {0} is not in the neighbours file")]
    UnknownIdentity(SocketAddrV4),
    #[error("STS message {message}: bad signature from {signer}")]
    BadSignature { message: u8, signer: SocketAddrV4 },
    #[error("STS message {message}: {source}")]
    BadDhValue { message: u8, source: BadPublicValue },
    #[error("STS message {message}: cannot sign with our key: {detail}")]
    Sign { message: u8, detail: String },
    #[error("0.0.0.0:0 is reserved for anonymous clients and cannot sign")]
    ReservedIdentity,
    #[error("handshake incomplete: {have} of the {need} bytes of STS message {message}")]
    Incomplete { message: u8, have: usize, need: usize },
    #[error("handshake already finished or failed; no more handshake input")]
    Over,
}

/// What one `read` did.
#[derive(Debug)]
#[must_use]
pub struct Progress {
    /// Bytes of the input that belonged to the handshake; the rest (if any) are cells for
    /// [`Established::codec`].
    pub consumed: usize,
    /// Bytes to send to the peer now (message 2 or 3), possibly empty.
    pub send: Vec<u8>,
    /// Set once the handshake is complete.
    pub established: Option<Established>,
}

impl Progress {
    /// Bytes taken, nothing to send yet, not complete.
    fn pending(consumed: usize) -> Progress {
        Progress { consumed, send: Vec::new(), established: None }
    }
}

/// A completed handshake.
#[derive(Debug)]
pub struct Established {
    pub peer: PeerIdentity,
    /// Engines positioned just after the handshake's signatures.
    pub codec: LinkCodec,
    /// The link's keys, kept only for a router's test-only `--link-key-log`.
    pub secrets: LinkSecrets,
}

/// What a capture checker needs to decrypt one link: its two DES keys and a tag that finds the
/// link's TCP stream (the first bytes of the dialler's public DH value, sent in clear in
/// message 1). Never logged except through the explicit, test-only `--link-key-log`.
#[derive(Debug, Clone)]
pub struct LinkSecrets {
    pub tag: [u8; LINK_TAG_LEN],
    pub keys: super::dh::LinkKeys,
}

/// Bytes of the dialler's public value that tag a link in a key log.
pub const LINK_TAG_LEN: usize = 8;

impl LinkSecrets {
    fn new(dialler_public: &[u8; DH_LEN], keys: &super::dh::LinkKeys) -> LinkSecrets {
        let mut tag = [0u8; LINK_TAG_LEN];
        tag.copy_from_slice(&dialler_public[..LINK_TAG_LEN]);
        LinkSecrets { tag, keys: keys.clone() }
    }

    /// The key-log line: `link TAG DIALLER-TO-LISTENER-KEY LISTENER-TO-DIALLER-KEY` in hex.
    pub fn key_log_line(&self) -> String {
        format!(
            "link {} {} {}",
            hex::encode(self.tag),
            hex::encode(self.keys.dialler_to_listener),
            hex::encode(self.keys.listener_to_dialler)
        )
    }
}

/// Fixed-size accumulator for one handshake message arriving in fragments.
struct Message<const N: usize> {
    buf: [u8; N],
    have: usize,
}

impl<const N: usize> Message<N> {
    fn new() -> Self {
        Message { buf: [0; N], have: 0 }
    }

    /// Take what is still missing from `input`; returns how many bytes were taken.
    fn fill(&mut self, input: &[u8]) -> usize {
        let n = (N - self.have).min(input.len());
        self.buf[self.have..self.have + n].copy_from_slice(&input[..n]);
        self.have += n;
        n
    }

    fn complete(&self) -> Option<&[u8; N]> {
        (self.have == N).then_some(&self.buf)
    }
}

/// `first ‖ second`, the signed transcript, hashed for PKCS#1 v1.5 with SHA-1.
fn transcript_hash(first: &[u8; DH_LEN], second: &[u8; DH_LEN]) -> [u8; 20] {
    Sha1::new().chain_update(first).chain_update(second).finalize().into()
}

fn sign(
    key: &RsaPrivateKey,
    rng: &mut ChaCha20Rng,
    transcript: [u8; 20],
    message: u8,
) -> Result<[u8; SIG_LEN], HandshakeError> {
    let sig = key
        .sign_with_rng(rng, Pkcs1v15Sign::new::<Sha1>(), &transcript)
        .map_err(|e| HandshakeError::Sign { message, detail: e.to_string() })?;
    <[u8; SIG_LEN]>::try_from(sig.as_slice()).map_err(|_| HandshakeError::Sign {
        message,
        detail: format!("signature is {} bytes, not {SIG_LEN} (key not 1024 bits)", sig.len()),
    })
}

fn verify(key: &RsaPublicKey, transcript: [u8; 20], sig: &[u8; SIG_LEN]) -> bool {
    key.verify(Pkcs1v15Sign::new::<Sha1>(), &transcript, sig).is_ok()
}

fn split<const A: usize, const B: usize>(msg: &[u8]) -> ([u8; A], [u8; B]) {
    let mut a = [0u8; A];
    let mut b = [0u8; B];
    a.copy_from_slice(&msg[..A]);
    b.copy_from_slice(&msg[A..A + B]);
    (a, b)
}

/// A private RNG for RSA blinding, seeded from the caller's CSPRNG.
fn blinding_rng(rng: &mut (impl RngCore + CryptoRng)) -> ChaCha20Rng {
    let mut seed = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(&mut seed[..]);
    ChaCha20Rng::from_seed(*seed)
}

#[cfg(test)]
mod tests;
