//! Route choice with stream isolation (docs/socks.md). Every anonymous connection has its own
//! onion, keys and ACIs; what connections can share is the *route*, the routers they cross.
//! Connections that carry an isolation key (the SOCKS proxy derives one from RFC 1929
//! credentials) reuse their key's route for [`ROUTE_REUSE`], as Tor reuses a circuit, and a
//! route in use by one key is never given to a connection of another key. Connections without a
//! key get a fresh random route each time, as before, avoiding the keyed routes when the network
//! offers another.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::wire::isolation::IsolationKey;

/// How long a key keeps its route (Tor's MaxCircuitDirtiness default).
pub const ROUTE_REUSE: Duration = Duration::from_secs(600);
/// Most keys remembered; the oldest is forgotten first.
pub const MAX_KEYS: usize = 4096;
/// Random draws tried for a route no other key uses.
const DRAWS: usize = 64;

/// Why no route could be given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IsolationError {
    #[error("no route free of other isolation keys after {DRAWS} draws (network too small to isolate)")]
    NoFreeRoute,
}

/// The routes of the isolation keys.
#[derive(Debug, Default)]
pub struct RouteTable {
    by_key: HashMap<IsolationKey, (Vec<usize>, Instant)>,
}

impl RouteTable {
    /// The route for a connection with `key` at `now`; `draw` picks a random route.
    pub fn route<E>(
        &mut self,
        key: Option<IsolationKey>,
        now: Instant,
        mut draw: impl FnMut() -> Result<Vec<usize>, E>,
    ) -> Result<Result<Vec<usize>, IsolationError>, E> {
        self.by_key.retain(|_, (_, since)| now.saturating_duration_since(*since) < ROUTE_REUSE);
        if let Some(k) = key {
            if let Some((route, _)) = self.by_key.get(&k) {
                return Ok(Ok(route.clone()));
            }
        }
        let mut last = None;
        for _ in 0..DRAWS {
            let route = draw()?;
            if !self.by_key.values().any(|(r, _)| *r == route) {
                if let Some(k) = key {
                    self.remember(k, route.clone(), now);
                }
                return Ok(Ok(route));
            }
            last = Some(route);
        }
        match (key, last) {
            (None, Some(route)) => Ok(Ok(route)),
            _ => Ok(Err(IsolationError::NoFreeRoute)),
        }
    }

    /// The key's route failed: the next connection with it draws a new one.
    pub fn forget(&mut self, key: IsolationKey) {
        self.by_key.remove(&key);
    }

    /// Keys with a route now.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    fn remember(&mut self, key: IsolationKey, route: Vec<usize>, now: Instant) {
        if self.by_key.len() >= MAX_KEYS {
            let oldest = self.by_key.iter().min_by_key(|(_, (_, since))| *since).map(|(k, _)| *k);
            if let Some(k) = oldest {
                self.by_key.remove(&k);
            }
        }
        self.by_key.insert(key, (route, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> Option<IsolationKey> {
        Some(IsolationKey([b; 16]))
    }

    /// Draws cycling through `routes`.
    fn cycle<'a>(routes: &'a [&'a [usize]]) -> impl FnMut() -> Result<Vec<usize>, ()> + 'a {
        let mut i = 0;
        move || {
            i += 1;
            Ok(routes[(i - 1) % routes.len()].to_vec())
        }
    }

    #[test]
    fn same_key_shares_other_keys_never_do() {
        let mut t = RouteTable::default();
        let now = Instant::now();
        let routes: &[&[usize]] = &[&[0, 1, 2], &[0, 2, 1]];
        let a = t.route(key(1), now, cycle(routes)).unwrap().unwrap();
        assert_eq!(t.route(key(1), now, cycle(&[&[0, 2, 1]])).unwrap().unwrap(), a, "same key reuses");
        let b = t.route(key(2), now, cycle(routes)).unwrap().unwrap();
        assert_ne!(a, b, "different keys, different routes");
        assert_eq!(t.route(key(3), now, cycle(routes)), Ok(Err(IsolationError::NoFreeRoute)));
        // Unkeyed connections still get a route when every one is taken.
        assert!(t.route(None, now, cycle(routes)).unwrap().is_ok());
        // After the reuse period the routes are free again.
        let later = now + ROUTE_REUSE;
        assert!(t.route(key(3), later, cycle(routes)).unwrap().is_ok());
        t.forget(IsolationKey([3; 16]));
        assert!(t.is_empty());
    }

    #[test]
    fn bounded() {
        let mut t = RouteTable::default();
        let now = Instant::now();
        let mut n = 0usize;
        for i in 0..MAX_KEYS + 10 {
            let mut k = [0u8; 16];
            k[..8].copy_from_slice(&(i as u64).to_be_bytes());
            t.route(Some(IsolationKey(k)), now, || {
                n += 1;
                Ok::<_, ()>(vec![n])
            })
            .unwrap()
            .unwrap();
        }
        assert_eq!(t.len(), MAX_KEYS);
    }
}
