//! The 28-byte onion layer of protocol.md §5: version, function codes, next hop, expiration, key seed.

use std::net::{Ipv4Addr, SocketAddrV4};

use thiserror::Error;

use super::reader::{Reader, Truncated};
use crate::crypto::CipherCode;

/// Bytes in one onion layer.
pub const LAYER_LEN: usize = 28;
/// Bytes of key seed material in a layer.
pub const SEED_LEN: usize = 16;
/// The version of an ordinary layer (byte 0, with bit 7 clear).
pub const LAYER_VERSION: u8 = 1;
/// The version of a reply relay layer (§15 of the protocol document).
pub const REPLY_RELAY_VERSION: u8 = 2;
/// The version of a reply endpoint layer: the last layer of a reply onion.
pub const REPLY_ENDPOINT_VERSION: u8 = 3;

/// Named byte ranges of a layer.
pub mod field {
    use std::ops::Range;
    pub const VERSION: usize = 0;
    pub const FUNCTIONS: usize = 1;
    pub const PORT: Range<usize> = 2..4;
    pub const IPV4: Range<usize> = 4..8;
    pub const EXPIRATION: Range<usize> = 8..12;
    pub const SEED: Range<usize> = 12..28;
}

/// Why a layer was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LayerError {
    #[error("layer byte 0 is {0:#04x}: zero bit set (wrong key?)")]
    ZeroBitSet(u8),
    #[error("layer version {0} is not 1, 2 or 3 (wrong key?)")]
    BadVersion(u8),
    #[error("unknown function code {0}")]
    UnknownFunction(u8),
    #[error(transparent)]
    Truncated(#[from] Truncated),
}

/// What a layer's version byte makes of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LayerKind {
    /// Version 1: the next hop is a router, or 0:0 at the exit.
    Ordinary,
    /// Version 2: a hop of a reply onion; the next hop is a router.
    ReplyRelay,
    /// Version 3: the last hop of a reply onion; the "next hop" is the owner's reply endpoint.
    ReplyEndpoint,
}

impl LayerKind {
    pub fn version(self) -> u8 {
        match self {
            LayerKind::Ordinary => LAYER_VERSION,
            LayerKind::ReplyRelay => REPLY_RELAY_VERSION,
            LayerKind::ReplyEndpoint => REPLY_ENDPOINT_VERSION,
        }
    }

    pub fn from_version(v: u8) -> Option<LayerKind> {
        match v {
            LAYER_VERSION => Some(LayerKind::Ordinary),
            REPLY_RELAY_VERSION => Some(LayerKind::ReplyRelay),
            REPLY_ENDPOINT_VERSION => Some(LayerKind::ReplyEndpoint),
            _ => None,
        }
    }

    /// Versions 2 and 3.
    pub fn is_reply(self) -> bool {
        self != LayerKind::Ordinary
    }
}

/// One onion layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// Ordinary or reply (the version byte).
    pub kind: LayerKind,
    /// Backward function (crypting cells toward the onion proxy), key2.
    pub back_f: CipherCode,
    /// Forward function (crypting cells toward the exit), key3.
    pub forw_f: CipherCode,
    /// Next router; 0.0.0.0:0 at the exit; the reply endpoint in a reply endpoint layer.
    pub next_hop: SocketAddrV4,
    /// Seconds since the Unix epoch.
    pub expiration: u32,
    pub seed: [u8; SEED_LEN],
}

impl Layer {
    /// The destination of an exit layer.
    pub const EXIT: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0);

    /// An exit layer is one whose destination port and address are both zero.
    pub fn is_exit(&self) -> bool {
        self.next_hop == Self::EXIT
    }

    pub fn to_bytes(&self) -> [u8; LAYER_LEN] {
        let mut out = [0u8; LAYER_LEN];
        out[field::VERSION] = self.kind.version();
        out[field::FUNCTIONS] = (self.back_f.code() << 4) | self.forw_f.code();
        out[field::PORT].copy_from_slice(&self.next_hop.port().to_be_bytes());
        out[field::IPV4].copy_from_slice(&self.next_hop.ip().octets());
        out[field::EXPIRATION].copy_from_slice(&self.expiration.to_be_bytes());
        out[field::SEED].copy_from_slice(&self.seed);
        out
    }

    /// Parse a layer from the first 28 bytes of `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Layer, LayerError> {
        let mut r = Reader::new(bytes);
        let v = r.u8()?;
        if v & 0x80 != 0 {
            return Err(LayerError::ZeroBitSet(v));
        }
        let kind = LayerKind::from_version(v).ok_or(LayerError::BadVersion(v))?;
        let f = r.u8()?;
        let back_f = CipherCode::from_code(f >> 4).ok_or(LayerError::UnknownFunction(f >> 4))?;
        let forw_f = CipherCode::from_code(f & 0x0f).ok_or(LayerError::UnknownFunction(f & 0x0f))?;
        let port = r.u16()?;
        let ip = Ipv4Addr::from(r.array::<4>()?);
        let expiration = r.u32()?;
        let seed = r.array::<SEED_LEN>()?;
        Ok(Layer { kind, back_f, forw_f, next_hop: SocketAddrV4::new(ip, port), expiration, seed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn field_order_is_port_then_ip() {
        let l = Layer {
            kind: LayerKind::Ordinary,
            back_f: CipherCode::Rc4,
            forw_f: CipherCode::DesOfb,
            next_hop: "127.0.0.1:9002".parse().unwrap(),
            expiration: 0x01020304,
            seed: [0xaa; 16],
        };
        let b = l.to_bytes();
        assert_eq!(&b[..12], &[1, 0x21, 0x23, 0x2a, 127, 0, 0, 1, 1, 2, 3, 4]);
        assert_eq!(Layer::parse(&b).unwrap(), l);
        assert!(!l.is_exit());
    }

    #[test]
    fn rejects_zero_bit_version_and_codes() {
        let mut b = [0u8; LAYER_LEN];
        b[0] = 0x81;
        assert_eq!(Layer::parse(&b), Err(LayerError::ZeroBitSet(0x81)));
        b[0] = 4;
        assert_eq!(Layer::parse(&b), Err(LayerError::BadVersion(4)));
        b[0] = 0;
        assert_eq!(Layer::parse(&b), Err(LayerError::BadVersion(0)));
        for (v, kind) in [(2, LayerKind::ReplyRelay), (3, LayerKind::ReplyEndpoint)] {
            b[0] = v;
            assert_eq!(Layer::parse(&b).unwrap().kind, kind);
        }
        b[0] = 1;
        b[1] = 0x05;
        assert_eq!(Layer::parse(&b), Err(LayerError::UnknownFunction(5)));
        b[1] = 0x00;
        assert!(Layer::parse(&b).unwrap().is_exit());
        assert!(matches!(Layer::parse(&b[..27]), Err(LayerError::Truncated(_))));
    }

    proptest! {
        #[test]
        fn parse_encode_round_trips(bytes in proptest::collection::vec(any::<u8>(), LAYER_LEN)) {
            if let Ok(l) = Layer::parse(&bytes) {
                prop_assert_eq!(&l.to_bytes()[..], &bytes[..]);
            }
        }
    }
}
