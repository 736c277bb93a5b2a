//! Counters a router keeps for operators (`ork status`) and tests; no connection maps.

use std::collections::BTreeMap;

use super::refusal::OnionRefusal;

/// Router counters.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct Stats {
    pub links_up: u64,
    pub links_down: u64,
    pub links_refused: u64,
    /// Links (and link attempts) ended, by reason.
    #[serde(default)]
    pub links_lost: BTreeMap<crate::link::LinkLoss, u64>,
    pub onions_peeled: u64,
    /// Refused onions by reason.
    pub onions_refused: BTreeMap<OnionRefusal, u64>,
    pub cells_in: u64,
    pub cells_out: u64,
    pub padding_in: u64,
    pub destroy_unknown_aci: u64,
    pub data_unknown_aci: u64,
    pub exits_opened: u64,
    pub exit_status: BTreeMap<u8, u64>,
}

impl Stats {
    pub fn refuse(&mut self, reason: OnionRefusal) {
        *self.onions_refused.entry(reason).or_default() += 1;
    }
}

/// One cell-carrying link, as `ork status` shows it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LinkStatus {
    pub peer: String,
    pub up_for_secs: u64,
    /// When the link was keyed, seconds since the Unix epoch.
    #[serde(default)]
    pub up_since_unix: u64,
    pub cells_in: u64,
    pub cells_out: u64,
    /// Cells waiting in the mixer for this link (all its connections together).
    #[serde(default)]
    pub queued_cells: usize,
    /// Bytes written to the link's socket and not yet taken by the kernel (backpressure pauses
    /// the link's sources above 512 KiB).
    #[serde(default)]
    pub unwritten_bytes: usize,
}

/// A router's status snapshot (`--status-file`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StatusReport {
    pub identity: String,
    pub neighbors: usize,
    pub links: Vec<LinkStatus>,
    pub connections: usize,
    pub mixer_queue: usize,
    pub replay_cache: usize,
    /// (link, ACI) pairs in use on every link, whichever end allocated the ACI: connections,
    /// onions arriving and DESTROY handshakes not yet complete.
    #[serde(default)]
    pub aci_slots: usize,
    /// Of those, DESTROYs sent and not yet acknowledged.
    #[serde(default)]
    pub awaiting_destroy_ack: usize,
    pub stats: Stats,
}
