//! How old a router's status file is and whether the router that wrote it still runs: the file
//! carries `written_unix` and `pid` (see `ork::net::status_file`), and a router rewrites it every
//! second and removes it when it stops cleanly.

use ork::net::status_file::{PID_KEY, WRITTEN_KEY};

/// A snapshot older than this comes from a router that no longer writes it.
pub const STALE_SECS: u64 = 5;

/// What the stamp of a status file says about its router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    /// Written `age` seconds ago by a running process.
    Live { age: u64, pid: u32 },
    /// The writing process is gone (killed or crashed: a clean stop removes the file).
    Dead { age: u64, pid: u32 },
    /// The process still exists but has not rewritten the file for `age` seconds.
    Stalled { age: u64, pid: u32 },
    /// No stamp (a file written by an older ork).
    Unknown,
}

impl Freshness {
    /// Read the stamp of `status` (the parsed file) at `now_unix`.
    pub fn of(status: &serde_json::Value, now_unix: u64) -> Freshness {
        let (Some(written), Some(pid)) = (
            status.get(WRITTEN_KEY).and_then(|v| v.as_u64()),
            status.get(PID_KEY).and_then(|v| v.as_u64()).and_then(|p| u32::try_from(p).ok()),
        ) else {
            return Freshness::Unknown;
        };
        let age = now_unix.saturating_sub(written);
        match (process_exists(pid), age <= STALE_SECS) {
            (false, _) => Freshness::Dead { age, pid },
            (true, true) => Freshness::Live { age, pid },
            (true, false) => Freshness::Stalled { age, pid },
        }
    }

    /// One line for the operator.
    pub fn line(&self) -> String {
        match self {
            Freshness::Live { age, pid } => format!("written {age} s ago by the running router (pid {pid})"),
            Freshness::Dead { age, pid } => format!(
                "NOT RUNNING: written {} ago by pid {pid}, which has exited without removing it \
                 (killed or crashed); what follows is its last snapshot",
                ago(*age)
            ),
            Freshness::Stalled { age, pid } => format!(
                "STALE: written {} ago; pid {pid} exists but has stopped rewriting it every second \
                 (hung, or the pid now belongs to another process); what follows is an old snapshot",
                ago(*age)
            ),
            Freshness::Unknown => "written at an unknown time (no written_unix in the file): the router \
                                   may not be running"
                .to_string(),
        }
    }
}

/// `42 s`, `3 min 5 s`, `2 h 1 min`.
fn ago(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

/// Whether a process with this id exists (signal 0 checks without sending anything).
fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 sends nothing; it only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn live_dead_stalled_unknown() {
        let me = std::process::id();
        let v = json!({ "written_unix": 1000, "pid": me });
        assert_eq!(Freshness::of(&v, 1002), Freshness::Live { age: 2, pid: me });
        assert_eq!(Freshness::of(&v, 1100), Freshness::Stalled { age: 100, pid: me });
        // A pid above the kernel's maximum (4194304) cannot exist.
        let v = json!({ "written_unix": 1000, "pid": 2_000_000_000u32 });
        assert_eq!(Freshness::of(&v, 1000 + 125), Freshness::Dead { age: 125, pid: 2_000_000_000 });
        assert!(Freshness::of(&v, 1125).line().contains("NOT RUNNING: written 2 min 5 s ago"));
        assert_eq!(Freshness::of(&json!({}), 5), Freshness::Unknown);
    }
}
