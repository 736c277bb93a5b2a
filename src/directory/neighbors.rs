//! A neighbours file for a router started with `--directory`: a line may omit the key path
//! (`HOST:PORT` alone); the key then comes from the network document.

use std::net::SocketAddrV4;
use std::path::Path;

use crate::config::{base_dir, lines, load_key, read, resolve_v4, ConfigError, Neighbor};

use super::document::NetworkDocument;

/// One line: the neighbour's identity and, when the line gives one, its key.
#[derive(Debug, Clone, PartialEq)]
pub struct NeighborLine {
    pub addr: SocketAddrV4,
    pub known: Option<Neighbor>,
}

/// Read a neighbours file whose lines may omit the key path.
pub fn parse_file(path: &Path) -> Result<Vec<NeighborLine>, ConfigError> {
    let text = read(path)?;
    let origin = path.display().to_string();
    let mut out: Vec<NeighborLine> = Vec::new();
    for (line, words) in lines(&text) {
        let (host_port, key_path) = match words[..] {
            [hp] => (hp, None),
            [hp, k] => (hp, Some(k)),
            _ => return Err(ConfigError::at(&origin, line, "expected HOST:PORT [PUBLIC-KEY-PATH]")),
        };
        let addr = resolve_v4(host_port).map_err(|p| ConfigError::at(&origin, line, p))?;
        if out.iter().any(|n| n.addr == addr) {
            return Err(ConfigError::at(&origin, line, format!("duplicate neighbour {addr}")));
        }
        let known = match key_path {
            Some(k) => {
                let (key, key_path) = load_key(base_dir(path), k, &origin, line)?;
                Some(Neighbor { addr, key, key_path })
            }
            None => None,
        };
        out.push(NeighborLine { addr, known });
    }
    Ok(out)
}

/// Whether any line lacks a key.
pub fn needs_document(lines: &[NeighborLine]) -> bool {
    lines.iter().any(|l| l.known.is_none())
}

/// The neighbours with keys: those the file gives, and those `doc` lists at the address; the
/// addresses found nowhere are returned apart.
pub fn complete(lines: Vec<NeighborLine>, doc: Option<&NetworkDocument>) -> (Vec<Neighbor>, Vec<SocketAddrV4>) {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for l in lines {
        match l.known {
            Some(n) => found.push(n),
            None => match doc.and_then(|d| d.routers.iter().find(|r| r.desc.addr == l.addr)) {
                Some(r) => found.push(Neighbor {
                    addr: l.addr,
                    key: r.desc.key.clone(),
                    key_path: format!("(directory: router {})", r.desc.name).into(),
                }),
                None => missing.push(l.addr),
            },
        }
    }
    (found, missing)
}
