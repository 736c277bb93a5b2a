//! The dialling end of the STS handshake: message 1 out, message 2 in, message 3 out.

use std::net::SocketAddrV4;
use std::sync::Arc;

use rand::{CryptoRng, RngCore};
use rand_chacha::ChaCha20Rng;
use rsa::{RsaPrivateKey, RsaPublicKey};

use super::{
    blinding_rng, sign, split, transcript_hash, verify, Established, HandshakeError, LinkSecrets, Message,
    PeerIdentity, Progress, MSG1_LEN, MSG2_LEN, SIG_LEN,
};
use crate::crypto::Engine;
use crate::link::codec::LinkCodec;
use crate::link::dh::{DhSecret, DH_LEN, EXPONENT_LEN};

/// The dialling end: sends message 1, reads message 2, sends message 3 unless anonymous.
pub struct Dialler {
    local: Option<(SocketAddrV4, Arc<RsaPrivateKey>)>,
    peer: SocketAddrV4,
    peer_key: RsaPublicKey,
    secret: DhSecret,
    public: [u8; DH_LEN],
    msg2: Message<MSG2_LEN>,
    rng: ChaCha20Rng,
    over: bool,
}

impl Dialler {
    /// Start a handshake towards `peer`, whose key is `peer_key` (the one listed for the
    /// address dialled). `local` is our identity and key, `None` for an anonymous client.
    /// Returns the machine and message 1.
    pub fn new(
        local: Option<(SocketAddrV4, Arc<RsaPrivateKey>)>,
        peer: SocketAddrV4,
        peer_key: RsaPublicKey,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<(Dialler, Vec<u8>), HandshakeError> {
        let secret = DhSecret::random(rng);
        Dialler::with_secret(local, peer, peer_key, secret, rng)
    }

    /// As [`Dialler::new`] with a fixed exponent x, for known-answer tests only.
    #[doc(hidden)]
    pub fn with_exponent(
        local: Option<(SocketAddrV4, Arc<RsaPrivateKey>)>,
        peer: SocketAddrV4,
        peer_key: RsaPublicKey,
        x: &[u8; EXPONENT_LEN],
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<(Dialler, Vec<u8>), HandshakeError> {
        Dialler::with_secret(local, peer, peer_key, DhSecret::from_exponent_bytes(x), rng)
    }

    fn with_secret(
        local: Option<(SocketAddrV4, Arc<RsaPrivateKey>)>,
        peer: SocketAddrV4,
        peer_key: RsaPublicKey,
        secret: DhSecret,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<(Dialler, Vec<u8>), HandshakeError> {
        let identity = match &local {
            Some((addr, _)) if addr.ip().is_unspecified() && addr.port() == 0 => {
                return Err(HandshakeError::ReservedIdentity);
            }
            Some((addr, _)) => PeerIdentity::Router(*addr),
            None => PeerIdentity::Anonymous,
        };
        let public = secret.public_value();
        let mut msg1 = Vec::with_capacity(MSG1_LEN);
        msg1.extend_from_slice(&identity.to_bytes());
        msg1.extend_from_slice(&public);
        let rng = blinding_rng(rng);
        let d = Dialler { local, peer, peer_key, secret, public, msg2: Message::new(), rng, over: false };
        Ok((d, msg1))
    }

    /// Feed bytes received from the listener.
    pub fn read(&mut self, input: &[u8]) -> Result<Progress, HandshakeError> {
        if self.over {
            return Err(HandshakeError::Over);
        }
        let consumed = self.msg2.fill(input);
        let Some(msg2) = self.msg2.complete() else {
            return Ok(Progress::pending(consumed));
        };
        self.over = true;
        let (their_public, mut sig) = split::<DH_LEN, SIG_LEN>(msg2);
        let z = self.secret.agree(&their_public).map_err(|source| HandshakeError::BadDhValue { message: 2, source })?;
        let keys = z.link_keys();
        let mut tx = Engine::des_ofb(&keys.dialler_to_listener);
        let mut rx = Engine::des_ofb(&keys.listener_to_dialler);

        rx.apply(&mut sig);
        if !verify(&self.peer_key, transcript_hash(&their_public, &self.public), &sig) {
            return Err(HandshakeError::BadSignature { message: 2, signer: self.peer });
        }
        let send = match &self.local {
            None => Vec::new(),
            Some((_, key)) => {
                let mut sig = sign(key, &mut self.rng, transcript_hash(&self.public, &their_public), 3)?;
                tx.apply(&mut sig);
                sig.to_vec()
            }
        };
        let secrets = LinkSecrets::new(&self.public, &keys);
        let established = Established { peer: PeerIdentity::Router(self.peer), codec: LinkCodec::new(tx, rx), secrets };
        Ok(Progress { consumed, send, established: Some(established) })
    }

    /// The error to log when the caller gives up (EOF or the 10 s timeout).
    pub fn incomplete(&self) -> HandshakeError {
        if self.over {
            return HandshakeError::Over;
        }
        HandshakeError::Incomplete { message: 2, have: self.msg2.have, need: MSG2_LEN }
    }
}

impl std::fmt::Debug for Dialler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dialler").field("peer", &self.peer).field("over", &self.over).finish_non_exhaustive()
    }
}
