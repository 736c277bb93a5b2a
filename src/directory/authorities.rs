//! The authorities file: every directory authority as `HOST:PORT PUBLIC-KEY-PATH`, one a line,
//! `#` comments, key paths relative to the file. The same file serves authorities, routers and
//! onion proxies; a majority is counted over every authority it lists.

use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};

use rsa::RsaPublicKey;

use super::sign::Fingerprint;
use crate::config::{base_dir, lines, load_key, read, resolve_v4, ConfigError};

/// One directory authority.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorityEntry {
    pub addr: SocketAddrV4,
    pub key: RsaPublicKey,
    pub fingerprint: Fingerprint,
    pub key_path: PathBuf,
}

/// Every authority, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Authorities {
    pub list: Vec<AuthorityEntry>,
}

impl Authorities {
    pub fn parse_file(path: &Path) -> Result<Authorities, ConfigError> {
        let text = read(path)?;
        Authorities::parse_str(&text, base_dir(path), &path.display().to_string())
    }

    pub fn parse_str(text: &str, base: &Path, origin: &str) -> Result<Authorities, ConfigError> {
        let mut list: Vec<AuthorityEntry> = Vec::new();
        for (line, words) in lines(text) {
            let [host_port, key_path] = words[..] else {
                return Err(ConfigError::at(origin, line, "expected HOST:PORT PUBLIC-KEY-PATH"));
            };
            let addr = resolve_v4(host_port).map_err(|p| ConfigError::at(origin, line, p))?;
            let (key, key_path) = load_key(base, key_path, origin, line)?;
            let fingerprint = Fingerprint::of(&key);
            if list.iter().any(|a| a.addr == addr || a.fingerprint == fingerprint) {
                return Err(ConfigError::at(origin, line, format!("authority {addr} or its key listed twice")));
            }
            list.push(AuthorityEntry { addr, key, fingerprint, key_path });
        }
        if list.is_empty() {
            return Err(ConfigError::at(origin, 1, "no authorities listed"));
        }
        Ok(Authorities { list })
    }

    /// Signatures a document needs: more than half of the listed authorities.
    pub fn majority(&self) -> usize {
        self.list.len() / 2 + 1
    }

    pub fn by_fingerprint(&self, f: &Fingerprint) -> Option<&AuthorityEntry> {
        self.list.iter().find(|a| a.fingerprint == *f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::sign::test_keys::key;

    fn write_key(dir: &Path, name: &str, i: usize) {
        let pem = crate::crypto::rsa_block::to_pem(&key(i)).unwrap().1;
        std::fs::write(dir.join(name), pem).unwrap();
    }

    #[test]
    fn parses_and_counts_a_majority() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..3 {
            write_key(dir.path(), &format!("a{i}.pub"), i);
        }
        let text = "# three\n127.0.0.1:9030 a0.pub\n127.0.0.1:9031 a1.pub\n127.0.0.1:9032 a2.pub\n";
        let a = Authorities::parse_str(text, dir.path(), "auth").unwrap();
        assert_eq!((a.list.len(), a.majority()), (3, 2));
        let f = Fingerprint::of(&key(1).to_public_key());
        assert_eq!(a.by_fingerprint(&f).map(|e| e.addr.port()), Some(9031));
        let err = |t: &str| Authorities::parse_str(t, dir.path(), "auth").unwrap_err().to_string();
        assert_eq!(
            err("127.0.0.1:9030 a0.pub\n127.0.0.1:9031 a0.pub"),
            "auth:2: authority 127.0.0.1:9031 or its key listed twice"
        );
        assert_eq!(err("127.0.0.1:9030"), "auth:1: expected HOST:PORT PUBLIC-KEY-PATH");
        assert_eq!(err("# none\n"), "auth:1: no authorities listed");
    }
}
