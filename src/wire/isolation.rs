//! **[ork]** The isolation prefix: an optional 17 bytes an application proxy may send to the
//! onion proxy *before* the standard structure (never into the network), saying which isolation
//! group the connection belongs to. The SOCKS proxy derives the key from RFC 1929 credentials, so
//! connections with different credentials never share a route (docs/socks.md).
//!
//! Layout: [`ISOLATION_MARK`] then [`ISOLATION_KEY_LEN`] key bytes. The mark can never start a
//! standard structure (whose first byte is its version, 1), so an onion proxy that does not know
//! the prefix answers status 1 rather than misreading it.

use sha2::{Digest, Sha256};

/// First byte of the prefix (`'I'`).
pub const ISOLATION_MARK: u8 = b'I';
/// Length of an isolation key.
pub const ISOLATION_KEY_LEN: usize = 16;
/// Length of the whole prefix.
pub const ISOLATION_PREFIX_LEN: usize = 1 + ISOLATION_KEY_LEN;

/// Which isolation group a connection belongs to: connections with different keys never share
/// a route.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IsolationKey(pub [u8; ISOLATION_KEY_LEN]);

impl std::fmt::Debug for IsolationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Short enough for a debug log, says nothing about the credentials behind it.
        write!(f, "IsolationKey({})", hex::encode(&self.0[..4]))
    }
}

impl IsolationKey {
    /// The key for a user name and password (each length-prefixed before hashing, so that no
    /// two different pairs collide by concatenation). The onion proxy never sees the credentials.
    pub fn from_credentials(user: &[u8], password: &[u8]) -> IsolationKey {
        let mut h = Sha256::new();
        h.update(b"ork isolation v1\0");
        for field in [user, password] {
            h.update((field.len() as u64).to_be_bytes());
            h.update(field);
        }
        let digest = h.finalize();
        let mut key = [0u8; ISOLATION_KEY_LEN];
        key.copy_from_slice(&digest[..ISOLATION_KEY_LEN]);
        IsolationKey(key)
    }

    /// The prefix bytes.
    pub fn to_prefix(self) -> [u8; ISOLATION_PREFIX_LEN] {
        let mut out = [0u8; ISOLATION_PREFIX_LEN];
        out[0] = ISOLATION_MARK;
        out[1..].copy_from_slice(&self.0);
        out
    }

    /// Strip a prefix from the start of `buf`. `Ok(None)`: `buf` does not start with one (it
    /// may be a standard structure). `Err(Incomplete)`: a prefix has begun but is incomplete.
    pub fn parse_prefix(buf: &[u8]) -> Result<Option<(IsolationKey, usize)>, Incomplete> {
        if buf.first() != Some(&ISOLATION_MARK) {
            return Ok(None);
        }
        let Some(key) = buf.get(1..ISOLATION_PREFIX_LEN) else { return Err(Incomplete) };
        let mut k = [0u8; ISOLATION_KEY_LEN];
        k.copy_from_slice(key);
        Ok(Some((IsolationKey(k), ISOLATION_PREFIX_LEN)))
    }
}

/// More bytes are needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incomplete;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_credentials_and_prefix_round_trips() {
        let a = IsolationKey::from_credentials(b"alice", b"");
        assert_ne!(a, IsolationKey::from_credentials(b"bob", b""));
        assert_ne!(IsolationKey::from_credentials(b"ab", b"c"), IsolationKey::from_credentials(b"a", b"bc"));
        assert_eq!(a, IsolationKey::from_credentials(b"alice", b""));
        let mut bytes = a.to_prefix().to_vec();
        for cut in 1..ISOLATION_PREFIX_LEN {
            assert_eq!(IsolationKey::parse_prefix(&bytes[..cut]), Err(Incomplete));
        }
        bytes.push(1);
        assert_eq!(IsolationKey::parse_prefix(&bytes), Ok(Some((a, ISOLATION_PREFIX_LEN))));
        assert_eq!(IsolationKey::parse_prefix(&[1, 4, 0, 1]), Ok(None));
        assert_eq!(IsolationKey::parse_prefix(&[]), Ok(None));
    }
}
