//! The write-buffer marks every role applies to its sockets (protocol.md §6 backpressure): above
//! [`HIGH_WATER`] unwritten bytes the sources that feed a socket stop being read, below
//! [`LOW_WATER`] they resume.

/// Pause sources when a sink has this many bytes unwritten.
pub const HIGH_WATER: usize = 512 * 1024;
/// Resume them below this.
pub const LOW_WATER: usize = 128 * 1024;
