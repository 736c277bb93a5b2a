//! Route selection (protocol.md §8): a route of the configured length chosen uniformly at random among
//! all simple paths (no router twice) along the network's links from the entry router.

use rand::{CryptoRng, Rng, RngCore};
use thiserror::Error;

use crate::onion::MAX_HOPS;

use super::network::Network;

/// Why no route could be chosen.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RouteError {
    #[error("entry router #{entry} does not exist (the network has {count} routers)")]
    UnknownEntry { entry: usize, count: usize },
    #[error("a route of {hops} routers is impossible: routes have 1 to {MAX_HOPS} routers")]
    BadLength { hops: usize },
    #[error(
        "no route of {hops} distinct routers starts at {entry} along the network's links \
         (the longest has {longest}): use a shorter route or add links"
    )]
    NoRoute { entry: String, hops: usize, longest: usize },
}

impl Network {
    /// How many routes of exactly `hops` distinct routers start at `entry` along the links.
    pub fn count_routes(&self, entry: usize, hops: usize) -> usize {
        if entry >= self.routers.len() || hops == 0 {
            return 0;
        }
        let mut visited = vec![false; self.routers.len()];
        visited[entry] = true;
        completions(&self.adjacency(), entry, hops - 1, &mut visited)
    }

    /// A route of exactly `hops` routers (indices, entry first) starting at `entry`, each step
    /// along a link and no router twice, chosen uniformly among all such routes.
    ///
    /// Counts the routes by depth-first search, draws one index uniformly, and walks down to it
    /// by counting each branch's routes: every route is equally likely, which a uniform choice
    /// at each step (favouring routes through sparse branches) would not give.
    pub fn random_route(
        &self,
        entry: usize,
        hops: usize,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Vec<usize>, RouteError> {
        let count = self.routers.len();
        if entry >= count {
            return Err(RouteError::UnknownEntry { entry, count });
        }
        if hops == 0 || hops > MAX_HOPS {
            return Err(RouteError::BadLength { hops });
        }
        let adj = self.adjacency();
        let mut visited = vec![false; count];
        visited[entry] = true;
        let total = completions(&adj, entry, hops - 1, &mut visited);
        if total == 0 {
            return Err(RouteError::NoRoute {
                entry: self.routers[entry].name.clone(),
                hops,
                longest: 1 + longest(&adj, entry, hops - 1, &mut visited),
            });
        }
        let mut k = rng.gen_range(0..total);
        let mut route = vec![entry];
        let mut here = entry;
        'step: for remaining in (0..hops - 1).rev() {
            for &next in &adj[here] {
                if visited[next] {
                    continue;
                }
                visited[next] = true;
                let n = completions(&adj, next, remaining, &mut visited);
                if k < n {
                    route.push(next);
                    here = next;
                    continue 'step;
                }
                visited[next] = false;
                k -= n;
            }
        }
        Ok(route)
    }
}

/// Simple paths of `remaining` more routers from `node`, avoiding `visited`.
fn completions(adj: &[Vec<usize>], node: usize, remaining: usize, visited: &mut [bool]) -> usize {
    if remaining == 0 {
        return 1;
    }
    let mut total = 0usize;
    for &next in &adj[node] {
        if !visited[next] {
            visited[next] = true;
            total = total.saturating_add(completions(adj, next, remaining - 1, visited));
            visited[next] = false;
        }
    }
    total
}

/// The most routers a simple path from `node` can add, up to `cap`.
fn longest(adj: &[Vec<usize>], node: usize, cap: usize, visited: &mut [bool]) -> usize {
    let mut best = 0;
    for &next in &adj[node] {
        if best < cap && !visited[next] {
            visited[next] = true;
            best = best.max(1 + longest(adj, next, cap - 1, visited));
            visited[next] = false;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::network::RouterEntry;
    use crate::config::test_keys;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;
    use std::net::SocketAddrV4;
    use std::path::PathBuf;

    /// Routers r0..r(n-1) at 127.0.0.1:9000+i, all with the test key.
    fn net(n: usize, links: &[(usize, usize)]) -> Network {
        let key = crate::crypto::rsa_block::public_key_from_pem(test_keys::public_pem(), "t");
        let key = key.unwrap();
        let routers = (0..n)
            .map(|i| RouterEntry {
                name: format!("r{i}"),
                addr: SocketAddrV4::new([127, 0, 0, 1].into(), 9000 + i as u16),
                key: key.clone(),
                key_path: PathBuf::from("k.pub"),
            })
            .collect();
        Network { routers, links: links.to_vec() }
    }

    #[test]
    fn routes_follow_links_without_repeats() {
        let n = net(6, &[(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 0), (0, 3)]);
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        for hops in 1..=5 {
            for _ in 0..50 {
                let r = n.random_route(0, hops, &mut rng).unwrap();
                assert_eq!((r.len(), r[0]), (hops, 0));
                for w in r.windows(2) {
                    assert!(n.neighbors(w[0]).contains(&w[1]), "{r:?}");
                }
                let mut sorted = r.clone();
                sorted.sort();
                sorted.dedup();
                assert_eq!(sorted.len(), hops, "{r:?}");
            }
        }
    }

    #[test]
    fn routes_are_uniform_not_stepwise() {
        // From 0: 0-1-3, 0-1-4, 0-2-5. Choosing uniformly at each step would give 0-2-5 half
        // the time; uniform over routes gives each a third.
        let n = net(6, &[(0, 1), (0, 2), (1, 3), (1, 4), (2, 5)]);
        assert_eq!(n.count_routes(0, 3), 3);
        let mut rng = ChaCha20Rng::seed_from_u64(6);
        let mut counts = [0u32; 6];
        for _ in 0..3000 {
            counts[n.random_route(0, 3, &mut rng).unwrap()[2]] += 1;
        }
        for c in [counts[3], counts[4], counts[5]] {
            assert!((850..1150).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn impossible_routes_say_why() {
        let n = net(4, &[(0, 1), (1, 2)]);
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let e = n.random_route(0, 4, &mut rng).unwrap_err();
        assert_eq!(e, RouteError::NoRoute { entry: "r0".into(), hops: 4, longest: 3 });
        assert!(e.to_string().contains("longest has 3"), "{e}");
        assert!(matches!(n.random_route(9, 1, &mut rng), Err(RouteError::UnknownEntry { .. })));
        assert!(matches!(n.random_route(0, 0, &mut rng), Err(RouteError::BadLength { .. })));
        assert!(matches!(n.random_route(0, 6, &mut rng), Err(RouteError::BadLength { .. })));
        assert_eq!(n.random_route(3, 1, &mut rng), Ok(vec![3]));
    }

    #[test]
    fn twenty_fully_linked_routers_five_hops() {
        let links: Vec<_> = (0..20).flat_map(|a| (a + 1..20).map(move |b| (a, b))).collect();
        let n = net(20, &links);
        assert_eq!(n.count_routes(4, 5), 19 * 18 * 17 * 16);
        let mut rng = ChaCha20Rng::seed_from_u64(8);
        assert_eq!(n.random_route(4, 5, &mut rng).unwrap().len(), 5);
    }
}
