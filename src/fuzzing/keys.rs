//! The fixed keys and instants of the harnesses: the five RSA keys of the known-answer vectors
//! (`tests/vectors/onions.json`, so the vector onions and STS transcript are valid seeds) and the
//! vectors' fixed DH exponents.

use std::net::SocketAddrV4;
use std::sync::{Arc, OnceLock};

use crate::crypto::rsa_block::private_key_from_pem;
use crate::crypto::RsaPrivateKey;

/// Expiration of every vector onion (2030-01-01).
pub const VECTOR_EXPIRATION: u64 = 1_893_456_000;
/// "Now" for harnesses that check freshness: ten minutes before the vector onions expire.
pub const NOW_UNIX: u64 = VECTOR_EXPIRATION - 600;

/// The vectors' keys; in `onions.json` router 127.0.0.1:(9001 + i) has key i, while the STS
/// transcript of `link.json` has its dialler 127.0.0.1:9002 on key 0 and listener :9001 on key 1.
pub fn vector_keys() -> &'static [Arc<RsaPrivateKey>] {
    static KEYS: OnceLock<Vec<Arc<RsaPrivateKey>>> = OnceLock::new();
    KEYS.get_or_init(|| {
        onion_vector()["keys_pkcs8_pem"]
            .as_array()
            .expect("key list")
            .iter()
            .map(|p| Arc::new(private_key_from_pem(p.as_str().expect("PEM text"), "onions.json").expect("vector key")))
            .collect()
    })
}

/// 127.0.0.1:`port`.
pub fn local(port: u16) -> SocketAddrV4 {
    SocketAddrV4::new([127, 0, 0, 1].into(), port)
}

/// The STS vector (`link.json`): DH exponents x (dialler) and y (listener).
pub fn sts_exponents() -> ([u8; 32], [u8; 32]) {
    let v = link_vector();
    let ex = |k: &str| -> [u8; 32] {
        hex::decode(v["sts"][k].as_str().expect("hex")).expect("hex").try_into().expect("32 bytes")
    };
    (ex("x_hex"), ex("y_hex"))
}

/// The parsed `link.json`.
pub fn link_vector() -> &'static serde_json::Value {
    static V: OnceLock<serde_json::Value> = OnceLock::new();
    V.get_or_init(|| serde_json::from_str(include_str!("../../tests/vectors/link.json")).expect("vector file parses"))
}

/// The parsed `onions.json`.
pub fn onion_vector() -> &'static serde_json::Value {
    static V: OnceLock<serde_json::Value> = OnceLock::new();
    V.get_or_init(|| serde_json::from_str(include_str!("../../tests/vectors/onions.json")).expect("vector file parses"))
}
