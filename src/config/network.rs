//! The network file of protocol.md §10 (onion proxy `--network`): the routers (`router NAME HOST:PORT
//! PUBLIC-KEY-PATH`) and the undirected links between them (`link NAME NAME`). Route selection
//! over them is in `route.rs`.

use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};

use crate::crypto::RsaPublicKey;
use crate::onion::RouteHop;

use super::{base_dir, lines, load_key, read, resolve_v4, ConfigError};

/// A router of the network.
#[derive(Debug, Clone, PartialEq)]
pub struct RouterEntry {
    pub name: String,
    pub addr: SocketAddrV4,
    pub key: RsaPublicKey,
    pub key_path: PathBuf,
}

/// The routers and the links between them, as the onion proxy knows them. Links are pairs of
/// indices into `routers`; a link that names an index out of range or the same router twice
/// is ignored by the methods below (the parser never makes one).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Network {
    pub routers: Vec<RouterEntry>,
    pub links: Vec<(usize, usize)>,
}

impl Network {
    /// Read the network file at `path` (key paths relative to its directory).
    pub fn parse_file(path: &Path) -> Result<Network, ConfigError> {
        let text = read(path)?;
        Network::parse_str(&text, base_dir(path), &path.display().to_string())
    }

    /// Parse a network from `text`, with key paths relative to `base_dir`; `origin` names the
    /// file in errors. Routers may be declared after the links that name them.
    pub fn parse_str(text: &str, base_dir: &Path, origin: &str) -> Result<Network, ConfigError> {
        let mut net = Network::default();
        let mut router_lines = Vec::new();
        let mut link_lines = Vec::new();
        for (line, words) in lines(text) {
            match words[..] {
                ["router", name, host_port, key_path] => {
                    if let Some(i) = net.by_name(name) {
                        let first = router_lines.get(i).copied().unwrap_or(0);
                        let problem = format!("router {name} already defined on line {first}");
                        return Err(ConfigError::at(origin, line, problem));
                    }
                    let addr = resolve_v4(host_port).map_err(|p| ConfigError::at(origin, line, p))?;
                    if let Some(other) = net.by_addr(addr) {
                        let name = &net.routers[other].name;
                        let problem = format!("address {addr} is already router {name}'s");
                        return Err(ConfigError::at(origin, line, problem));
                    }
                    let (key, key_path) = load_key(base_dir, key_path, origin, line)?;
                    let name = name.to_owned();
                    net.routers.push(RouterEntry { name, addr, key, key_path });
                    router_lines.push(line);
                }
                ["link", a, b] => link_lines.push((line, a, b)),
                ["router", ..] => {
                    let problem = "expected router NAME HOST:PORT PUBLIC-KEY-PATH";
                    return Err(ConfigError::at(origin, line, problem));
                }
                ["link", ..] => return Err(ConfigError::at(origin, line, "expected link NAME NAME")),
                [word, ..] => {
                    let problem = format!("unknown keyword {word:?} (expected router or link)");
                    return Err(ConfigError::at(origin, line, problem));
                }
                [] => {}
            }
        }
        let mut seen: Vec<((usize, usize), usize)> = Vec::new();
        for (line, a, b) in link_lines {
            let find = |name: &str| {
                net.by_name(name)
                    .ok_or_else(|| ConfigError::at(origin, line, format!("link names unknown router {name:?}")))
            };
            let (i, j) = (find(a)?, find(b)?);
            if i == j {
                return Err(ConfigError::at(origin, line, format!("router {a} linked to itself")));
            }
            let pair = (i.min(j), i.max(j));
            if let Some((_, first)) = seen.iter().find(|(p, _)| *p == pair) {
                let problem = format!("link {a} {b} already given on line {first}");
                return Err(ConfigError::at(origin, line, problem));
            }
            seen.push((pair, line));
            net.links.push((i, j));
        }
        Ok(net)
    }

    /// The index of the router called `name`.
    pub fn by_name(&self, name: &str) -> Option<usize> {
        self.routers.iter().position(|r| r.name == name)
    }

    /// The index of the router listening at `addr`.
    pub fn by_addr(&self, addr: SocketAddrV4) -> Option<usize> {
        self.routers.iter().position(|r| r.addr == addr)
    }

    /// The routers linked to router `idx`, in ascending order.
    pub fn neighbors(&self, idx: usize) -> Vec<usize> {
        self.adjacency().into_iter().nth(idx).unwrap_or_default()
    }

    /// The hops of `route` (indices) for building its onion.
    pub fn route_hops(&self, route: &[usize]) -> Vec<RouteHop> {
        let hop = |r: &RouterEntry| RouteHop { addr: r.addr, key: r.key.clone() };
        route.iter().filter_map(|&i| self.routers.get(i)).map(hop).collect()
    }

    /// Sorted, deduplicated neighbour lists, ignoring links out of range or to self.
    pub(super) fn adjacency(&self) -> Vec<Vec<usize>> {
        let n = self.routers.len();
        let mut adj = vec![Vec::new(); n];
        for &(a, b) in &self.links {
            if a < n && b < n && a != b {
                adj[a].push(b);
                adj[b].push(a);
            }
        }
        for list in &mut adj {
            list.sort_unstable();
            list.dedup();
        }
        adj
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_keys;

    #[test]
    fn parses_routers_and_undirected_links_in_any_order() {
        let dir = tempfile::tempdir().unwrap();
        test_keys::write(dir.path(), "a.pub");
        let text = "link b a  # before the routers
router a 127.0.0.1:9001 a.pub

\
                    router b 127.0.0.1:9002 a.pub
router c 127.0.0.1:9003 a.pub
link c b
";
        let path = dir.path().join("network.txt");
        std::fs::write(&path, text).unwrap();
        let n = Network::parse_file(&path).unwrap();
        assert_eq!(n.routers.len(), 3);
        assert_eq!((n.by_name("b"), n.by_name("x")), (Some(1), None));
        assert_eq!(n.by_addr("127.0.0.1:9003".parse().unwrap()), Some(2));
        assert_eq!(n.routers[0].key_path, dir.path().join("a.pub"));
        assert_eq!(n.neighbors(1), vec![0, 2]);
        assert_eq!(n.neighbors(0), vec![1]);
        assert_eq!(n.neighbors(7), Vec::<usize>::new());
        assert_eq!(n.route_hops(&[2, 1])[0].addr, n.routers[2].addr);
    }

    #[test]
    fn errors_name_file_line_and_problem() {
        let dir = tempfile::tempdir().unwrap();
        test_keys::write(dir.path(), "k.pub");
        let head = "router a 127.0.0.1:1 k.pub\nrouter b 127.0.0.1:2 k.pub\n";
        let err = |tail: &str| {
            let text = format!("{head}{tail}");
            Network::parse_str(&text, dir.path(), "network.txt").unwrap_err().to_string()
        };
        assert_eq!(err("link a zed"), "network.txt:3: link names unknown router \"zed\"");
        assert_eq!(err("link a a"), "network.txt:3: router a linked to itself");
        assert_eq!(err("link a b\nlink b a"), "network.txt:4: link b a already given on line 3");
        assert_eq!(err("link a"), "network.txt:3: expected link NAME NAME");
        assert!(err("router a 127.0.0.1:3 k.pub").contains(":3: router a already defined on line 1"));
        assert!(err("router c 127.0.0.1:2 k.pub").contains(":3: address 127.0.0.1:2 is already"));
        assert!(err("router c 127.0.0.1:3").starts_with("network.txt:3: expected router NAME"));
        assert!(err("route a b").starts_with("network.txt:3: unknown keyword \"route\""));
        assert!(err("router c 127.0.0.1:3 nokey.pub").contains("nokey.pub"));
    }
}
