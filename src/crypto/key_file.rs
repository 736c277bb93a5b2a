//! Reading a private key file the way ssh does: refused when group or others have any access
//! to it (unless the operator allows it), and read into memory that is wiped on drop.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rsa::RsaPrivateKey;
use zeroize::Zeroizing;

use super::rsa_block::{private_key_from_pem, KeyError};

/// Permission bits that make a private key file "open": any access by group or others.
pub const OPEN_MODE_BITS: u32 = 0o077;
/// Longest private key file read (a 1024-bit PKCS#8 PEM is under 1 KiB).
const MAX_KEY_FILE_LEN: u64 = crate::input_file::KEY_FILE_MAX;

/// Whether a key file whose group or others have access is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenKey {
    /// Refuse it (the default, like ssh).
    Refuse,
    /// Accept it (`--allow-open-key`), with a warning.
    Allow,
}

/// Load a private key from `path`, checking the permissions of the opened file (not of the
/// name, so nothing can swap the file between check and read). The PEM text lives only in
/// buffers that are zeroed on drop; the parsed key zeroes itself on drop too.
pub fn load_private_key_file(path: &Path, open: OpenKey) -> Result<RsaPrivateKey, KeyError> {
    let shown = path.display().to_string();
    let read_err = |source| KeyError::Read { path: shown.clone(), source };
    let mut file = std::fs::File::open(path).map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & OPEN_MODE_BITS != 0 {
        match open {
            OpenKey::Refuse => return Err(KeyError::OpenPermissions { path: shown, mode }),
            OpenKey::Allow => {
                log::warn!("{shown}: private key file mode {mode:04o} is open to others (--allow-open-key)")
            }
        }
    }
    if meta.len() > MAX_KEY_FILE_LEN {
        return Err(KeyError::Parse {
            path: shown,
            what: "private",
            detail: format!("larger than {} KiB, the limit for a key file", MAX_KEY_FILE_LEN / 1024),
        });
    }
    // Room for the whole file up front, so that the buffer never reallocates (which would leave
    // an unwiped copy behind).
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_KEY_FILE_LEN as usize + 1));
    (&mut file).take(MAX_KEY_FILE_LEN + 1).read_to_end(&mut bytes).map_err(read_err)?;
    if bytes.len() as u64 > MAX_KEY_FILE_LEN {
        return Err(KeyError::Parse {
            path: shown,
            what: "private",
            detail: format!("larger than {} KiB, the limit for a key file", MAX_KEY_FILE_LEN / 1024),
        });
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| KeyError::Parse {
        path: shown.clone(),
        what: "private",
        detail: "not UTF-8 text".into(),
    })?;
    private_key_from_pem(text, &shown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn write_key(dir: &Path, mode: u32) -> std::path::PathBuf {
        let v: serde_json::Value = serde_json::from_str(include_str!("../../tests/vectors/onions.json")).unwrap();
        let pem = v["keys_pkcs8_pem"][0].as_str().unwrap();
        let p = dir.join(format!("k{mode:o}.key"));
        fs::write(&p, pem).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn open_key_files_are_refused_unless_allowed() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [0o600, 0o400] {
            assert!(load_private_key_file(&write_key(dir.path(), mode), OpenKey::Refuse).is_ok(), "{mode:o}");
        }
        for mode in [0o644, 0o640, 0o604, 0o620, 0o601] {
            let p = write_key(dir.path(), mode);
            let e = load_private_key_file(&p, OpenKey::Refuse).unwrap_err();
            assert!(matches!(e, KeyError::OpenPermissions { mode: m, .. } if m == mode), "{mode:o}: {e}");
            assert!(e.to_string().contains(&format!("{mode:04o}")), "{e}");
            assert!(load_private_key_file(&p, OpenKey::Allow).is_ok());
        }
    }

    #[test]
    fn oversized_and_binary_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.key");
        fs::write(&big, vec![b'A'; MAX_KEY_FILE_LEN as usize + 1]).unwrap();
        fs::set_permissions(&big, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(load_private_key_file(&big, OpenKey::Refuse).unwrap_err().to_string().contains("larger than"));
        let bin = dir.path().join("bin.key");
        fs::write(&bin, [0xff, 0xfe]).unwrap();
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(load_private_key_file(&bin, OpenKey::Refuse).unwrap_err().to_string().contains("UTF-8"));
    }
}
