//! `ork keygen`: write a router's RSA key pair (protocol.md §4): `PREFIX.key`, PKCS#8 PEM created with
//! mode 0600, and `PREFIX.pub`, SubjectPublicKeyInfo PEM.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use ork::crypto::rsa_block::{generate, to_pem, MODULUS_BITS, PUBLIC_EXPONENT};

use super::ConfigError;

/// Mode of the private key file, set when the file is created.
const PRIVATE_MODE: u32 = 0o600;
/// Mode of the public key file (before the umask).
const PUBLIC_MODE: u32 = 0o644;

/// Generate a 1024-bit RSA key pair (e = 65537) for a router or funnel.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  ork keygen --out keys/r1      # writes keys/r1.key (mode 0600) and keys/r1.pub

OpenSSL reads both: openssl pkey -in keys/r1.key -noout -text")]
pub struct Args {
    /// Path prefix of the files: writes PREFIX.key and PREFIX.pub.
    #[arg(short, long, value_name = "PREFIX")]
    pub out: PathBuf,
    /// Replace existing key files.
    #[arg(long)]
    pub force: bool,
}

/// `PREFIX` + `.ext`, keeping any dots already in the prefix (`r1.old` → `r1.old.key`).
fn with_suffix(prefix: &Path, ext: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// Create `path` with `mode` from the start (no window in which it is readable by others) and
/// write `text`. An existing file is refused, or with `force` removed first so that the new
/// file gets `mode` rather than keeping the old file's.
fn write_new(path: &Path, text: &str, mode: u32, force: bool) -> anyhow::Result<()> {
    if force {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("{}: cannot remove the old file", path.display())),
        }
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("{}: cannot create", path.display()))?;
    file.write_all(text.as_bytes()).with_context(|| format!("{}: cannot write", path.display()))?;
    file.sync_all().with_context(|| format!("{}: cannot sync", path.display()))?;
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let key_path = with_suffix(&args.out, "key");
    let pub_path = with_suffix(&args.out, "pub");
    if !args.force {
        // Check both before writing either, so a refusal leaves nothing half-written.
        for p in [&key_path, &pub_path] {
            if p.symlink_metadata().is_ok() {
                return Err(ConfigError::msg(format!(
                    "{} already exists; refusing to overwrite it (use --force to replace the key pair)",
                    p.display()
                )));
            }
        }
    }
    let key = generate(&mut rand::rngs::OsRng).context("generating the RSA key")?;
    let (private_pem, public_pem) = to_pem(&key).context("encoding the key as PEM")?;
    write_new(&key_path, &private_pem, PRIVATE_MODE, args.force)?;
    write_new(&pub_path, &public_pem, PUBLIC_MODE, args.force)?;
    super::emit(format_args!(
        "wrote {} (private, PKCS#8 PEM, mode 0600) and {} (public, SPKI PEM): RSA {MODULUS_BITS} bits, e = {PUBLIC_EXPONENT}\n",
        key_path.display(),
        pub_path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_keeps_dots_in_the_prefix() {
        assert_eq!(with_suffix(Path::new("k/r1.old"), "key"), PathBuf::from("k/r1.old.key"));
        assert_eq!(with_suffix(Path::new("r1"), "pub"), PathBuf::from("r1.pub"));
    }
}
