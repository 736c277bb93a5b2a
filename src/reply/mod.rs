//! Reply onions (protocol.md §15): the tag that names one at its owner's
//! endpoint, the users' `REPLY` line, the owner's key record, the end-to-end layer and the
//! 45-byte bodies of the endpoint leg. Building and peeling the onion itself is in
//! [`crate::onion`].

pub mod body;
pub mod e2e;
pub mod line;
pub mod record;
pub mod store;

use sha1::{Digest, Sha1};

use crate::wire::layer::SEED_LEN;

/// Bytes of a tag (a SHA-1 output).
pub const TAG_LEN: usize = 20;
/// The endpoint leg's version byte, the first byte hn writes.
pub const LEG_VERSION: u8 = 0x01;
/// The leg's head: version byte and tag.
pub const LEG_HEAD_LEN: usize = 1 + TAG_LEN;
/// What the tag hashes before hn's key seed.
const TAG_PREFIX: &[u8; 13] = b"ork reply tag";

/// The tag naming a reply onion at its owner: SHA-1("ork reply tag" ‖ hn's key seed).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tag(pub [u8; TAG_LEN]);

impl Tag {
    pub fn from_seed(hn_seed: &[u8; SEED_LEN]) -> Tag {
        let mut h = Sha1::new();
        h.update(TAG_PREFIX);
        h.update(hn_seed);
        Tag(h.finalize().into())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Option<Tag> {
        let mut t = [0u8; TAG_LEN];
        hex::decode_to_slice(s, &mut t).ok()?;
        Some(Tag(t))
    }

    /// The 21 bytes hn writes first on the endpoint leg.
    pub fn leg_head(&self) -> [u8; LEG_HEAD_LEN] {
        let mut out = [0u8; LEG_HEAD_LEN];
        out[0] = LEG_VERSION;
        out[1..].copy_from_slice(&self.0);
        out
    }
}

impl std::fmt::Debug for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tag({})", self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_of_zero_seed() {
        let t = Tag::from_seed(&[0; SEED_LEN]);
        assert_eq!(t.to_hex(), "53b8e19336652eacbf01c4ebc53593a03bfda408");
        assert_eq!(Tag::from_hex(&t.to_hex()), Some(t));
        assert_eq!(t.leg_head()[0], LEG_VERSION);
        assert_eq!(&t.leg_head()[1..], &t.0);
        assert_eq!(Tag::from_hex("53b8"), None);
    }
}
