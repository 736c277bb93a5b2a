//! The onion router (protocol.md §2–§6, §9): its sans-IO core, a thin dispatcher (`core.rs`)
//! between self-contained parts that own their state and do not import each other in a
//! circle: the link table, the connection table, the exit funnel, the mixing stage, the replay
//! cache, backpressure and timers.

pub mod config;
pub mod conn_table;
mod connections;
pub mod core;
mod exit;
mod exit_funnel;
mod flow;
mod link_events;
mod links;
mod liveness;
mod mix_stage;
pub mod mixer;
pub mod onion_rate;
mod reconfigure;
pub mod refusal;
pub mod replay;
pub mod stats;
mod timers;

pub use self::config::{RouterConfig, Timeouts};
pub use self::conn_table::{MAX_CREATING, MAX_CREATING_PER_LINK};
pub use self::core::Router;
pub use self::flow::{HIGH_WATER, LOW_WATER};
pub use crate::link::aci::{self, half_for, id_bytes, AciAllocator, Half};
pub use crate::link::backoff;
pub use crate::onion::create_chunks;
pub use mixer::Mixer;
pub use onion_rate::OnionRate;
pub use refusal::OnionRefusal;
pub use replay::{ReplayCache, ReplayError, ReplayRefusal};
