//! Sockets: the mio reactor that drives every role's sans-IO core. The only module with I/O.

mod actions;
pub mod connect;
pub mod interfaces;
pub mod reactor;
pub mod resolver;
pub mod status_file;

pub use reactor::{Reactor, ReactorConfig};
