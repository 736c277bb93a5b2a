//! The log line for a link handshake that timed out (protocol.md §3: logged with the peer's address),
//! rate-limited so that thousands of silent connects do not flood the log: at most one info
//! line per peer address per minute, the next one saying how many were left out.
//!
//! The address is the dialled address (IPv4 and port) for links we dial and the source IPv4
//! address alone for links we accept (a client's source port changes with every connect).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use log::info;

use crate::log_limit::LogLimit;

/// One line per peer address per this long.
pub const LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Handshake timeouts per peer address, and how many were left out of the log.
#[derive(Debug)]
pub struct TimeoutLog {
    peers: LogLimit<SocketAddr>,
}

impl Default for TimeoutLog {
    fn default() -> Self {
        TimeoutLog { peers: LogLimit::new(1, LOG_INTERVAL) }
    }
}

impl TimeoutLog {
    /// A handshake with `peer` timed out at `now`. Returns the line logged, if one was.
    pub fn timed_out(&mut self, now: Instant, peer: SocketAddr, role: &str) -> Option<String> {
        let skipped = self.peers.allow(now, peer)?;
        let more =
            if skipped > 0 { format!(" ({skipped} more in the minute before, not logged)") } else { String::new() };
        let line = format!("{role} link with {peer}: handshake not finished within 10 s; closed{more}");
        info!("{line}");
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_address_per_minute() {
        let mut log = TimeoutLog::default();
        let t0 = Instant::now();
        let a: SocketAddr = "192.0.2.1:0".parse().unwrap();
        let b: SocketAddr = "192.0.2.2:0".parse().unwrap();
        let mut lines = Vec::new();
        // 2,000 timeouts from one address and one from another, spread over 2.5 minutes.
        for i in 0..2000u64 {
            let t = t0 + Duration::from_millis(i * 75);
            lines.extend(log.timed_out(t, a, "router"));
        }
        lines.extend(log.timed_out(t0 + Duration::from_secs(1), b, "router"));
        let for_a: Vec<_> = lines.iter().filter(|l| l.contains("192.0.2.1")).collect();
        assert_eq!(for_a.len(), 3, "150 s of timeouts: minutes 0, 1 and 2: {for_a:?}");
        assert!(for_a[1].contains("(799 more"), "{}", for_a[1]);
        assert_eq!(lines.iter().filter(|l| l.contains("192.0.2.2")).count(), 1);
    }
}
