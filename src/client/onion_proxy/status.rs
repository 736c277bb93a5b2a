//! What an onion proxy shows operators (`--status-file`, `ork status`): its uplink, connection
//! count and the ACIs it holds on the uplink. Never where connections go.

use super::OnionProxy;

/// An onion proxy's status snapshot.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OnionProxyStatus {
    /// The router (or stand-alone funnel) it enters the network through.
    pub uplink: String,
    pub uplink_open: bool,
    /// Application connections being served (reading, waiting, opening or open).
    pub applications: usize,
    /// Live anonymous connections.
    pub connections: usize,
    /// ACIs held on the uplink: live connections and DESTROY handshakes not yet complete.
    pub acis_in_use: usize,
    /// Anonymous connections opened since start.
    pub opened: u64,
}

impl OnionProxy {
    /// The status snapshot.
    pub fn status_report(&self) -> OnionProxyStatus {
        OnionProxyStatus {
            uplink: self.uplink.addr.to_string(),
            uplink_open: self.uplink.is_open(),
            applications: self.apps.len(),
            connections: self.by_aci.len(),
            acis_in_use: self.uplink.acis_in_use(),
            opened: self.opened,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_through_json() {
        let s = OnionProxyStatus {
            uplink: "127.0.0.1:9001".into(),
            uplink_open: true,
            applications: 2,
            connections: 1,
            acis_in_use: 1,
            opened: 3,
        };
        let back: OnionProxyStatus = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back.acis_in_use, 1);
        assert!(back.uplink_open);
    }
}
