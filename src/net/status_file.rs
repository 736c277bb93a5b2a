//! The router's `--status-file`: the core's JSON snapshot with when it was written and by which
//! process (`written_unix`, `pid`), replaced atomically once a second and removed on a clean
//! shutdown, so that `ork status` can tell a live router's file from a stopped one's.

use std::io;
use std::path::Path;

/// Key of the time of writing (seconds since the Unix epoch) in the status file.
pub const WRITTEN_KEY: &str = "written_unix";
/// Key of the writing process's id in the status file.
pub const PID_KEY: &str = "pid";

/// The snapshot `json` (an object) with the time of writing and this process's id added.
pub fn stamp(json: &str, now_unix: u64) -> io::Result<String> {
    let mut value: serde_json::Value = serde_json::from_str(json).map_err(io::Error::other)?;
    let object = value.as_object_mut().ok_or_else(|| io::Error::other("status snapshot is not a JSON object"))?;
    object.insert(WRITTEN_KEY.into(), now_unix.into());
    object.insert(PID_KEY.into(), std::process::id().into());
    serde_json::to_string(&value).map_err(io::Error::other)
}

/// Write the stamped snapshot to `path` atomically (a temporary file, then rename).
pub fn write(path: &Path, json: &str, now_unix: u64) -> io::Result<()> {
    let text = stamp(json, now_unix)?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path))
}

/// Remove the status file at a clean shutdown (a missing file is fine).
pub fn remove(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_time_and_pid_and_removes() {
        let text = stamp(r#"{"identity":"127.0.0.1:9001"}"#, 1_700_000_000).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v[WRITTEN_KEY], 1_700_000_000u64);
        assert_eq!(v[PID_KEY], std::process::id());
        assert_eq!(v["identity"], "127.0.0.1:9001");
        assert!(stamp("[1]", 0).is_err());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r1.status");
        write(&p, "{}", 5).unwrap();
        assert!(p.exists());
        remove(&p).unwrap();
        assert!(!p.exists());
        remove(&p).unwrap();
    }
}
