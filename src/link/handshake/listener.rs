//! The listening end of the STS handshake: message 1 in, message 2 out, message 3 in (not
//! from anonymous clients).

use std::net::SocketAddrV4;
use std::sync::Arc;

use rand::{CryptoRng, RngCore};
use rand_chacha::ChaCha20Rng;
use rsa::{RsaPrivateKey, RsaPublicKey};

use super::{
    blinding_rng, sign, split, transcript_hash, verify, Established, HandshakeError, LinkSecrets, Message,
    PeerIdentity, Progress, IDENTITY_LEN, MSG1_LEN, MSG2_LEN, MSG3_LEN,
};
use crate::crypto::Engine;
use crate::link::codec::LinkCodec;
use crate::link::dh::{DhSecret, DH_LEN, EXPONENT_LEN};

enum ListenerState {
    AwaitMsg1(Message<MSG1_LEN>),
    AwaitMsg3(Box<AwaitMsg3>),
    Over,
}

/// After message 2, waiting for the dialler's signature.
struct AwaitMsg3 {
    dialler: SocketAddrV4,
    dialler_key: RsaPublicKey,
    /// g^x, g^y: the transcript the dialler signs.
    publics: ([u8; DH_LEN], [u8; DH_LEN]),
    tx: Engine,
    rx: Engine,
    secrets: LinkSecrets,
    msg3: Message<MSG3_LEN>,
}

/// The listening end: reads message 1, sends message 2, reads message 3 unless the dialler
/// is an anonymous client.
pub struct Listener {
    key: Arc<RsaPrivateKey>,
    secret: DhSecret,
    rng: ChaCha20Rng,
    state: ListenerState,
}

impl Listener {
    pub fn new(key: Arc<RsaPrivateKey>, rng: &mut (impl RngCore + CryptoRng)) -> Listener {
        let secret = DhSecret::random(rng);
        Listener::with_secret(key, secret, rng)
    }

    /// As [`Listener::new`] with a fixed exponent y, for known-answer tests only.
    #[doc(hidden)]
    pub fn with_exponent(
        key: Arc<RsaPrivateKey>,
        y: &[u8; EXPONENT_LEN],
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Listener {
        Listener::with_secret(key, DhSecret::from_exponent_bytes(y), rng)
    }

    fn with_secret(key: Arc<RsaPrivateKey>, secret: DhSecret, rng: &mut (impl RngCore + CryptoRng)) -> Listener {
        Listener { key, secret, rng: blinding_rng(rng), state: ListenerState::AwaitMsg1(Message::new()) }
    }

    /// Feed bytes received from the dialler. `lookup_key` returns the public key the
    /// neighbours file lists for an identity; it is not called for anonymous clients.
    pub fn read(
        &mut self,
        input: &[u8],
        lookup_key: &dyn Fn(SocketAddrV4) -> Option<RsaPublicKey>,
    ) -> Result<Progress, HandshakeError> {
        // Take the state out: any error leaves the machine `Over`.
        match std::mem::replace(&mut self.state, ListenerState::Over) {
            ListenerState::AwaitMsg1(mut msg1) => {
                let consumed = msg1.fill(input);
                let Some(bytes) = msg1.complete() else {
                    self.state = ListenerState::AwaitMsg1(msg1);
                    return Ok(Progress::pending(consumed));
                };
                let (identity, their_public) = split::<IDENTITY_LEN, DH_LEN>(bytes);
                let mut progress = self.on_msg1(identity, their_public, lookup_key)?;
                progress.consumed = consumed;
                if progress.established.is_none() {
                    // Message 3 may already be in this input.
                    let more = self.read(&input[consumed..], lookup_key)?;
                    progress.consumed += more.consumed;
                    progress.established = more.established;
                }
                Ok(progress)
            }
            ListenerState::AwaitMsg3(mut wait) => {
                let consumed = wait.msg3.fill(input);
                let Some(sig) = wait.msg3.complete() else {
                    self.state = ListenerState::AwaitMsg3(wait);
                    return Ok(Progress::pending(consumed));
                };
                let mut sig = *sig;
                let AwaitMsg3 { dialler, dialler_key, publics, tx, mut rx, secrets, .. } = *wait;
                rx.apply(&mut sig);
                if !verify(&dialler_key, transcript_hash(&publics.0, &publics.1), &sig) {
                    return Err(HandshakeError::BadSignature { message: 3, signer: dialler });
                }
                let established =
                    Established { peer: PeerIdentity::Router(dialler), codec: LinkCodec::new(tx, rx), secrets };
                Ok(Progress { consumed, send: Vec::new(), established: Some(established) })
            }
            ListenerState::Over => Err(HandshakeError::Over),
        }
    }

    /// Message 1 is complete: check it, answer with message 2.
    fn on_msg1(
        &mut self,
        identity: [u8; IDENTITY_LEN],
        their_public: [u8; DH_LEN],
        lookup_key: &dyn Fn(SocketAddrV4) -> Option<RsaPublicKey>,
    ) -> Result<Progress, HandshakeError> {
        let peer = PeerIdentity::from_bytes(&identity);
        let dialler_key = match peer {
            PeerIdentity::Anonymous => None,
            PeerIdentity::Router(addr) => Some((addr, lookup_key(addr).ok_or(HandshakeError::UnknownIdentity(addr))?)),
        };
        let z = self.secret.agree(&their_public).map_err(|source| HandshakeError::BadDhValue { message: 1, source })?;
        let keys = z.link_keys();
        let mut tx = Engine::des_ofb(&keys.listener_to_dialler);
        let rx = Engine::des_ofb(&keys.dialler_to_listener);
        let secrets = LinkSecrets::new(&their_public, &keys);
        let our_public = self.secret.public_value();

        let mut sig = sign(&self.key, &mut self.rng, transcript_hash(&our_public, &their_public), 2)?;
        tx.apply(&mut sig);
        let mut send = Vec::with_capacity(MSG2_LEN);
        send.extend_from_slice(&our_public);
        send.extend_from_slice(&sig);

        let established = match dialler_key {
            None => Some(Established { peer, codec: LinkCodec::new(tx, rx), secrets }),
            Some((dialler, dialler_key)) => {
                self.state = ListenerState::AwaitMsg3(Box::new(AwaitMsg3 {
                    dialler,
                    dialler_key,
                    publics: (their_public, our_public),
                    tx,
                    rx,
                    secrets,
                    msg3: Message::new(),
                }));
                None
            }
        };
        Ok(Progress { consumed: 0, send, established })
    }

    /// The error to log when the caller gives up (EOF or the 10 s timeout).
    pub fn incomplete(&self) -> HandshakeError {
        match &self.state {
            ListenerState::AwaitMsg1(m) => HandshakeError::Incomplete { message: 1, have: m.have, need: MSG1_LEN },
            ListenerState::AwaitMsg3(wait) => {
                HandshakeError::Incomplete { message: 3, have: wait.msg3.have, need: MSG3_LEN }
            }
            ListenerState::Over => HandshakeError::Over,
        }
    }
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener").field("incomplete", &self.incomplete()).finish_non_exhaustive()
    }
}
