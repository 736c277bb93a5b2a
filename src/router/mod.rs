//! The onion router's sans-IO building blocks: ACI allocation, the replay cache, the mixer.

pub mod aci;
pub mod mixer;
pub mod replay;

pub use aci::{half_for, AciAllocator, Half};
pub use mixer::Mixer;
pub use replay::{ReplayCache, ReplayError, ReplayRefusal};
