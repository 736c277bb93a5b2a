//! The configuration files of protocol.md §10 — neighbours, network topology (and route selection on
//! it), policies — and what they share: line splitting with `#` comments, `HOST:PORT` resolution, errors naming file and line.

pub mod allow;
pub mod neighbors;
pub mod network;
pub mod policy;
pub mod route;
pub mod rule;

use std::net::{Ipv4Addr, SocketAddrV4, ToSocketAddrs};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::crypto::rsa_block::{load_public_key, KeyError};
use crate::crypto::RsaPublicKey;

pub use neighbors::{parse_neighbors, parse_neighbors_str, Neighbor};
pub use network::{Network, RouterEntry};
pub use policy::Policy;
pub use route::RouteError;
pub use rule::{Action, AddrPattern, Rule};

/// A configuration file that cannot be used, naming the file, the line and the problem.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read { file: String, source: std::io::Error },
    #[error("{file}:{line}: {problem}")]
    Line { file: String, line: usize, problem: String },
    /// The key file's own path is in `source`'s message.
    #[error("{file}:{line}: public key {source}")]
    Key { file: String, line: usize, key_path: PathBuf, source: KeyError },
}

impl ConfigError {
    pub(crate) fn at(file: &str, line: usize, problem: impl Into<String>) -> ConfigError {
        ConfigError::Line { file: file.to_owned(), line, problem: problem.into() }
    }
}

/// Read a whole configuration file.
pub(crate) fn read(path: &Path) -> Result<String, ConfigError> {
    crate::input_file::read_to_string(path, crate::input_file::CONFIG_FILE_MAX, "a configuration file")
        .map_err(|source| ConfigError::Read { file: path.display().to_string(), source })
}

/// The directory relative key paths in `path` are resolved against.
pub(crate) fn base_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// The meaningful lines of a file: (1-based line number, whitespace-separated words), with
/// everything from `#` to the end of the line a comment and blank lines skipped.
pub(crate) fn lines(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let code = line.split('#').next().unwrap_or("");
        let words: Vec<&str> = code.split_whitespace().collect();
        (!words.is_empty()).then_some((i + 1, words))
    })
}

/// Parse `HOST:PORT` (port 1..=65535) and resolve the host to its first IPv4 address, once.
/// A dotted IPv4 host is used as is, without a resolver.
pub(crate) fn resolve_v4(host_port: &str) -> Result<SocketAddrV4, String> {
    let bad = || format!("expected HOST:PORT, got {host_port:?}");
    let (host, port) = host_port.rsplit_once(':').ok_or_else(bad)?;
    if host.is_empty() || host.contains(':') || host.starts_with('[') {
        return Err(format!(
            "expected HOST:PORT with an IPv4 address or host name, got {host_port:?} \
             (routers are IPv4)"
        ));
    }
    let port: u16 = match port.parse() {
        Ok(p) if p != 0 && port.bytes().all(|b| b.is_ascii_digit()) => p,
        _ => return Err(format!("bad port {port:?} in {host_port:?} (1..=65535)")),
    };
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(SocketAddrV4::new(ip, port));
    }
    let addrs = (host, port).to_socket_addrs().map_err(|e| format!("cannot resolve {host:?}: {e}"))?;
    addrs
        .filter_map(|a| match a {
            std::net::SocketAddr::V4(v4) => Some(v4),
            std::net::SocketAddr::V6(_) => None,
        })
        .next()
        .ok_or_else(|| format!("{host:?} has no IPv4 address"))
}

/// Load the public key at `key_path` (relative to `base`) for line `line` of `file`.
pub(crate) fn load_key(
    base: &Path,
    key_path: &str,
    file: &str,
    line: usize,
) -> Result<(RsaPublicKey, PathBuf), ConfigError> {
    let key_path = base.join(key_path);
    match load_public_key(&key_path) {
        Ok(key) => Ok((key, key_path)),
        Err(source) => Err(ConfigError::Key { file: file.to_owned(), line, key_path, source }),
    }
}

#[cfg(test)]
pub(crate) mod test_keys {
    //! Public key files for tests: one 1024-bit key, generated once per test run.

    use std::path::Path;
    use std::sync::OnceLock;

    use rand::SeedableRng;

    /// The SubjectPublicKeyInfo PEM of a test key.
    pub fn public_pem() -> &'static str {
        static PEM: OnceLock<String> = OnceLock::new();
        PEM.get_or_init(|| {
            let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(42);
            let key = crate::crypto::rsa_block::generate(&mut rng).unwrap();
            crate::crypto::rsa_block::to_pem(&key).unwrap().1
        })
    }

    /// Write the test public key to `dir/name`.
    pub fn write(dir: &Path, name: &str) {
        std::fs::write(dir.join(name), public_pem()).unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_skip_comments_and_blanks_and_count_from_one() {
        let text = "# header\n\n  a b # trailing\n\t#indented\nc\n";
        let got: Vec<_> = lines(text).collect();
        assert_eq!(got, vec![(3, vec!["a", "b"]), (5, vec!["c"])]);
    }

    #[test]
    fn host_port_resolution() {
        assert_eq!(resolve_v4("10.0.0.1:9001"), Ok("10.0.0.1:9001".parse().unwrap()));
        assert_eq!(resolve_v4("localhost:9001").unwrap().port(), 9001);
        for bad in ["10.0.0.1", ":9001", "10.0.0.1:0", "10.0.0.1:+80", "10.0.0.1:70000", "[::1]:9"] {
            assert!(resolve_v4(bad).is_err(), "{bad}");
        }
        assert!(resolve_v4("no-such-host.invalid:1").unwrap_err().contains("no-such-host"));
    }

    #[test]
    fn base_dir_of_a_bare_file_name_is_the_current_directory() {
        assert_eq!(base_dir(Path::new("neighbors.txt")), Path::new("."));
        assert_eq!(base_dir(Path::new("/etc/ork/neighbors.txt")), Path::new("/etc/ork"));
    }
}
