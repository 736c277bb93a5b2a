//! ork: onion routing after Reed, Syverson and Goldschlag, *Anonymous Connections and Onion
//! Routing* (1998). The library is a sans-IO core (wire formats, crypto, onions, router and
//! client state machines); `net` is the only module that touches sockets.

pub mod client;
pub mod config;
pub mod crypto;
pub mod directory;
pub mod event;
#[doc(hidden)]
pub mod fuzzing;
pub mod input_file;
pub mod link;
pub mod log_limit;
pub mod net;
pub mod onion;
pub mod proxy;
pub mod reply;
pub mod router;
pub mod sim;
pub mod wire;
