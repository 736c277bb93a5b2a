//! Links between routers (SPEC §1, §3), sans-IO: STS keying in Oakley group 2 with RSA
//! signatures, then link encryption of cells with one DES-OFB keystream per direction.

pub mod codec;
pub mod dh;

pub use codec::{LinkCodec, LinkError};
pub use dh::{BadPublicValue, DH_LEN};
