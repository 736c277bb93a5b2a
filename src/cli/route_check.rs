//! `onion-proxy --hops N` checked at start against the network file: a length no route has is
//! refused (exit status 2) with the lengths that are possible, instead of every connection
//! failing later.

use std::path::Path;

use ork::config::network::Network;
use ork::onion::MAX_HOPS;

use super::ConfigError;

/// Route lengths (1..=MAX_HOPS) for which at least one route starts at `entry`.
pub fn possible_lengths(network: &Network, entry: usize) -> Vec<usize> {
    (1..=MAX_HOPS).filter(|&hops| network.count_routes(entry, hops) > 0).collect()
}

/// `Ok` if some route of `hops` distinct routers starts at `entry` along the links of `file`.
pub fn hops_possible(network: &Network, entry: usize, hops: usize, file: &Path) -> anyhow::Result<()> {
    if network.count_routes(entry, hops) > 0 {
        return Ok(());
    }
    let name = network.routers.get(entry).map_or("?", |r| r.name.as_str());
    let possible = possible_lengths(network, entry);
    let longest = possible.last().copied().unwrap_or(1);
    Err(ConfigError::msg(format!(
        "--hops {hops}: no route of {hops} distinct routers starts at {name} along the links of {} \
         ({} routers, {} links); possible: --hops 1 to {longest}",
        file.display(),
        network.routers.len(),
        network.links.len(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_two_router_network_has_routes_of_one_and_two() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.pub"), dir.path().join("b.pub"));
        let key = ork::crypto::rsa_block::generate(&mut rand::rngs::OsRng).unwrap();
        let pem = ork::crypto::rsa_block::to_pem(&key).unwrap().1;
        std::fs::write(&a, &pem).unwrap();
        std::fs::write(&b, &pem).unwrap();
        let text = "router r1 127.0.0.1:9001 a.pub\nrouter r2 127.0.0.1:9002 b.pub\nlink r1 r2\n";
        let net = Network::parse_str(text, dir.path(), "network.txt").unwrap();
        assert_eq!(possible_lengths(&net, 0), vec![1, 2]);
        assert!(hops_possible(&net, 0, 2, Path::new("network.txt")).is_ok());
        let e = hops_possible(&net, 0, 5, Path::new("network.txt")).unwrap_err();
        assert_eq!(super::super::exit_status(&e), super::super::EXIT_CONFIG);
        assert!(e.to_string().contains("possible: --hops 1 to 2"), "{e}");
    }
}
