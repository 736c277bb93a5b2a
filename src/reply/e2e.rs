//! The end-to-end layer between a reply onion's user and its owner: AES-128-CTR engines keyed
//! from the user seed (key3 user → owner, key2 owner → user), so no router or link sees the
//! data.

use crate::crypto::{CipherCode, Engine, KeySet};
use crate::wire::layer::SEED_LEN;

/// Which end of the end-to-end layer this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    User,
    Owner,
}

/// Both directions of the end-to-end layer at one end.
#[derive(Debug)]
pub struct EndToEnd {
    /// Crypts the bytes this end sends.
    send: Engine,
    /// Crypts the bytes this end receives.
    recv: Engine,
}

impl EndToEnd {
    pub fn new(user_seed: &[u8; SEED_LEN], side: Side) -> EndToEnd {
        let keys = KeySet::derive(user_seed);
        let to_owner = Engine::new(CipherCode::Aes128Ctr, &keys.key3);
        let to_user = Engine::new(CipherCode::Aes128Ctr, &keys.key2);
        match side {
            Side::User => EndToEnd { send: to_owner, recv: to_user },
            Side::Owner => EndToEnd { send: to_user, recv: to_owner },
        }
    }

    /// Crypt bytes about to be framed and sent.
    pub fn seal(&mut self, buf: &mut [u8]) {
        self.send.apply(buf);
    }

    /// Crypt bytes just unframed.
    pub fn open(&mut self, buf: &mut [u8]) {
        self.recv.apply(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_and_owner_undo_each_other() {
        let seed = [9u8; SEED_LEN];
        let mut user = EndToEnd::new(&seed, Side::User);
        let mut owner = EndToEnd::new(&seed, Side::Owner);
        let mut req = b"GET / HTTP/1.0\r\n\r\n".to_vec();
        user.seal(&mut req[..5]);
        user.seal(&mut req[5..]);
        assert_ne!(&req[..], b"GET / HTTP/1.0\r\n\r\n");
        owner.open(&mut req);
        assert_eq!(&req[..], b"GET / HTTP/1.0\r\n\r\n");
        let mut ans = b"200".to_vec();
        owner.seal(&mut ans);
        user.open(&mut ans);
        assert_eq!(&ans[..], b"200");
    }
}
