//! Cryptography: stream-cipher engines, key derivation, raw RSA blocks, and STS link keying.

pub mod cipher;
pub mod ct_rsa;
pub mod fast_des;
pub mod key_file;
pub mod key_kind;
pub mod keys;
pub mod keystream;
pub mod rsa_block;

pub use cipher::{CipherCode, Engine};
pub use keys::{KeySet, KEY_LEN};
pub use rsa::{RsaPrivateKey, RsaPublicKey};
pub use rsa_block::{KeyError, RSA_BLOCK_LEN};
