//! Clients of the router network: the onion proxy and the stand-alone entry funnel (protocol.md §8).

pub mod funnel;
pub mod onion_proxy;
pub mod reply_endpoint;
/// The anonymous uplink, which lives with the other link machinery in [`crate::link`].
pub use crate::link::uplink;

pub use onion_proxy::{OnionProxy, OnionProxyConfig, OnionProxyStatus};
