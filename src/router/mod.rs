//! The onion router (protocol.md §2–§6, §9): its sans-IO core and the pieces it is made of.

mod circuits;
pub mod config;
pub mod core;
mod exit;
pub mod flow;
mod links;
mod liveness;
pub mod mixer;
pub mod onion_rate;
mod reconfigure;
pub mod replay;
pub mod slots;
pub mod stats;
mod timers;

pub use self::config::{RouterConfig, Timeouts};
pub use self::core::Router;
pub use crate::link::aci::{self, half_for, id_bytes, AciAllocator, Half};
pub use crate::link::backoff;
pub use crate::onion::create_chunks;
pub use mixer::Mixer;
pub use onion_rate::{OnionRate, ONION_RATE_REFUSAL};
pub use replay::{ReplayCache, ReplayError, ReplayRefusal};
