//! Reading a file the user named (key, onion, neighbours, network, policy, config, status) with
//! a size limit: `ork router --key /dev/zero` gets a clear error instead of reading until the
//! machine runs out of memory. A leaf: imports nothing of ours.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Largest key file (a 1024-bit PEM key is under 1 KiB).
pub const KEY_FILE_MAX: u64 = 64 * 1024;
/// Largest onion file (an onion is 240 bytes).
pub const ONION_FILE_MAX: u64 = 64 * 1024;
/// Largest configuration file: neighbours, network, policy, `--config` TOML.
pub const CONFIG_FILE_MAX: u64 = 4 * 1024 * 1024;
/// Largest router status file (`--status-file`).
pub const STATUS_FILE_MAX: u64 = 16 * 1024 * 1024;

/// The bytes of `path`, or an error of kind `InvalidData` if it holds more than `max` bytes.
/// Reads at most `max + 1` bytes, so a device or pipe without end costs nothing.
pub fn read(path: &Path, max: u64, what: &str) -> io::Result<Vec<u8>> {
    let file = File::open(path)?;
    if file.metadata()?.is_dir() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "is a directory, not a file"));
    }
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {}, the limit for {what}: not {what}", size(max)),
        ));
    }
    Ok(bytes)
}

/// The text of `path` (UTF-8), at most `max` bytes, as [`read`].
pub fn read_to_string(path: &Path, max: u64, what: &str) -> io::Result<String> {
    String::from_utf8(read(path, max, what)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("not UTF-8 text, so not {what}")))
}

/// `4 MiB`, `64 KiB`, `300 bytes`.
fn size(n: u64) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endless_input_is_refused_after_the_limit() {
        let e = read(Path::new("/dev/zero"), KEY_FILE_MAX, "a key file").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert_eq!(e.to_string(), "larger than 64 KiB, the limit for a key file: not a key file");
    }

    #[test]
    fn files_up_to_the_limit_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, vec![b'a'; 300]).unwrap();
        assert_eq!(read(&p, 300, "x").unwrap().len(), 300);
        assert!(read(&p, 299, "x").unwrap_err().to_string().contains("299 bytes"));
        assert_eq!(read_to_string(&p, 300, "x").unwrap().len(), 300);
        std::fs::write(&p, [0xff, 0xfe]).unwrap();
        assert!(read_to_string(&p, 300, "a network file").unwrap_err().to_string().contains("not UTF-8"));
        assert!(read(dir.path(), 300, "x").unwrap_err().to_string().contains("directory"));
        assert_eq!(size(4 << 20), "4 MiB");
    }
}
