//! Clients of the router network: the onion proxy and the stand-alone entry funnel (protocol.md §8).

pub mod funnel;
pub mod onion_proxy;
pub mod uplink;

pub use onion_proxy::{OnionProxy, OnionProxyConfig};
