//! The onion router (protocol.md §2–§6, §9): its sans-IO core and the pieces it is made of.

pub mod aci;
pub mod backoff;
mod circuits;
pub mod config;
pub mod core;
mod exit;
pub mod flow;
mod links;
mod liveness;
pub mod mixer;
pub mod onion_rate;
pub mod replay;
pub mod slots;
pub mod stats;

pub use self::config::{RouterConfig, Timeouts};
pub use self::core::Router;
pub use aci::{half_for, AciAllocator, Half};
pub use circuits::create_chunks;
pub use links::id_bytes;
pub use mixer::Mixer;
pub use onion_rate::{OnionRate, ONION_RATE_REFUSAL};
pub use replay::{ReplayCache, ReplayError, ReplayRefusal};
