//! The neighbours file of protocol.md §10 (`--neighbors`): one neighbouring router a line,
//! `HOST:PORT PUBLIC-KEY-PATH`, key paths relative to the file's directory.

use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};

use crate::crypto::RsaPublicKey;

use super::{base_dir, lines, load_key, read, resolve_v4, ConfigError};

/// A neighbouring router: its identity (the address it listens on and names itself by) and the
/// key its STS signatures are checked with.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbor {
    pub addr: SocketAddrV4,
    pub key: RsaPublicKey,
    /// Where the key was loaded from (for logs).
    pub key_path: PathBuf,
}

impl Neighbor {
    /// The 6-byte link identity, IPv4 ‖ port (protocol.md §3).
    pub fn identity(&self) -> [u8; 6] {
        let [a, b, c, d] = self.addr.ip().octets();
        let [p, q] = self.addr.port().to_be_bytes();
        [a, b, c, d, p, q]
    }
}

/// Read the neighbours file at `path`: host names resolved once (first IPv4 address), keys
/// loaded; every problem names the file and line.
pub fn parse_neighbors(path: &Path) -> Result<Vec<Neighbor>, ConfigError> {
    let text = read(path)?;
    parse_neighbors_str(&text, base_dir(path), &path.display().to_string())
}

/// Parse neighbours from `text`, with key paths relative to `base_dir`; `origin` names the file
/// in errors.
pub fn parse_neighbors_str(text: &str, base_dir: &Path, origin: &str) -> Result<Vec<Neighbor>, ConfigError> {
    let mut out: Vec<(usize, Neighbor)> = Vec::new();
    for (line, words) in lines(text) {
        let [host_port, key_path] = words[..] else {
            return Err(ConfigError::at(origin, line, "expected HOST:PORT PUBLIC-KEY-PATH"));
        };
        let addr = resolve_v4(host_port).map_err(|p| ConfigError::at(origin, line, p))?;
        if let Some((first, _)) = out.iter().find(|(_, n)| n.addr == addr) {
            return Err(ConfigError::at(origin, line, format!("duplicate neighbour {addr} (already on line {first})")));
        }
        let (key, key_path) = load_key(base_dir, key_path, origin, line)?;
        out.push((line, Neighbor { addr, key, key_path }));
    }
    Ok(out.into_iter().map(|(_, n)| n).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_keys;

    fn dir_with_keys(names: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("keys")).unwrap();
        for name in names {
            test_keys::write(&dir.path().join("keys"), name);
        }
        dir
    }

    #[test]
    fn parses_neighbours_relative_to_the_file() {
        let dir = dir_with_keys(&["a.pub", "b.pub"]);
        let text = "# the ring\n127.0.0.1:9001 keys/a.pub\n\nlocalhost:9002   keys/b.pub # b\n";
        let path = dir.path().join("neighbors.txt");
        std::fs::write(&path, text).unwrap();
        let n = parse_neighbors(&path).unwrap();
        assert_eq!(n.len(), 2);
        assert_eq!(n[0].addr, "127.0.0.1:9001".parse().unwrap());
        assert_eq!(n[0].identity(), [127, 0, 0, 1, 0x23, 0x29]);
        assert_eq!(n[1].addr.port(), 9002);
        assert_eq!(n[1].key_path, dir.path().join("keys/b.pub"));
        let pem = test_keys::public_pem();
        assert_eq!(n[0].key, crate::crypto::rsa_block::public_key_from_pem(pem, "t").unwrap());
    }

    #[test]
    fn errors_name_file_line_and_problem() {
        let dir = dir_with_keys(&["a.pub"]);
        let base = dir.path();
        let err = |text: &str| parse_neighbors_str(text, base, "neighbors.txt").unwrap_err().to_string();
        assert_eq!(
            err("127.0.0.1:9001 keys/a.pub\n\n127.0.0.1:9002\n"),
            "neighbors.txt:3: expected HOST:PORT PUBLIC-KEY-PATH"
        );
        assert!(err("127.0.0.1:9001 keys/a.pub extra").starts_with("neighbors.txt:1: expected"));
        assert!(err("127.0.0.1 keys/a.pub").starts_with("neighbors.txt:1: expected HOST:PORT"));
        assert!(err("127.0.0.1:0 keys/a.pub").starts_with("neighbors.txt:1: bad port"));
        let dup = err("127.0.0.1:9001 keys/a.pub\n127.0.0.1:9001 keys/a.pub");
        assert!(dup.starts_with("neighbors.txt:2: duplicate neighbour 127.0.0.1:9001"), "{dup}");
        let missing = err("# x\n127.0.0.1:9001 keys/missing.pub");
        assert!(missing.starts_with("neighbors.txt:2: public key "), "{missing}");
        assert!(missing.contains("keys/missing.pub"), "{missing}");
    }

    #[test]
    fn unreadable_file_is_named() {
        let e = parse_neighbors(Path::new("/nonexistent/neighbors.txt")).unwrap_err();
        assert!(e.to_string().starts_with("/nonexistent/neighbors.txt: cannot read"), "{e}");
    }

    #[test]
    fn bad_key_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("junk.pub"), "not a key").unwrap();
        let e = parse_neighbors_str("10.0.0.1:1 junk.pub", dir.path(), "n").unwrap_err();
        assert!(matches!(&e, ConfigError::Key { line: 1, .. }), "{e}");
        assert!(e.to_string().contains("junk.pub"), "{e}");
    }
}
