//! Counters a router keeps for operators (`ork status`) and tests; no connection maps.

use std::collections::BTreeMap;

/// Router counters.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Stats {
    pub links_up: u64,
    pub links_down: u64,
    pub links_refused: u64,
    pub onions_peeled: u64,
    /// Refused onions by reason.
    pub onions_refused: BTreeMap<String, u64>,
    pub cells_in: u64,
    pub cells_out: u64,
    pub padding_in: u64,
    pub destroy_unknown_aci: u64,
    pub data_unknown_aci: u64,
    pub exits_opened: u64,
    pub exit_status: BTreeMap<u8, u64>,
}

impl Stats {
    pub fn refuse(&mut self, reason: &str) {
        *self.onions_refused.entry(reason.to_string()).or_default() += 1;
    }
}
