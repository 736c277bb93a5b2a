//! Sockets and files: the mio reactor that drives every role's sans-IO core, and the stores the
//! cores write through traits. The only module with I/O.

mod actions;
pub mod connect;
pub mod interfaces;
pub mod reactor;
pub mod replay_file;
pub mod resolver;
pub mod status_file;

pub use reactor::{Reactor, ReactorConfig};
