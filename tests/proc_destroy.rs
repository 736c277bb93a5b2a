//! Every non-zero status the exit answers through the real onion proxy ends with the DESTROY
//! handshake complete and the ACI free on both sides (protocol.md §2, §6), as `ork status --json`
//! shows for the onion proxy and every router.

mod procs;

use std::time::Duration;

use procs::*;

fn status_json(bed: &Bed, file: &str) -> serde_json::Value {
    let out = ork().args(["status", "--json"]).arg(bed.path(file)).output().expect("ork status --json");
    assert!(out.status.success(), "ork status --json {file}");
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn refused_connections_free_their_acis_on_both_sides() {
    let mut bed = Bed::new(5, full_mesh(5));
    bed.start_routers(&["--status-file", "r{i}.status"]);
    let proxy = bed.start_onion_proxy("op", &["--hops", "5", "--status-file", "op.status"]);
    let closed = free_port();
    // 5: nothing listens on `closed`; 6: the testbed's exit policy accepts only 127.0.0.0/8.
    let cases = [("127.0.0.1", closed, 5u8), ("192.0.2.1", 80, 6)];
    let mut seen = Vec::new();
    for _ in 0..10 {
        for (host, port, want) in cases {
            let got = anon_connect(proxy, host, port).err();
            assert_eq!(got, Some(want), "{host}:{port}");
            seen.push(want);
        }
    }
    let settled = || {
        let op = status_json(&bed, "op.status");
        let routers: Vec<serde_json::Value> = (1..=5).map(|i| status_json(&bed, &format!("r{i}.status"))).collect();
        op["acis_in_use"] == 0
            && op["connections"] == 0
            && op["opened"] == 20
            && routers.iter().all(|r| r["aci_slots"] == 0 && r["awaiting_destroy_ack"] == 0 && r["connections"] == 0)
    };
    wait_for("ACIs free on the onion proxy and every router", Duration::from_secs(10), settled);
    let r1 = status_json(&bed, "r1.status");
    eprintln!(
        "statuses {seen:?}; onion proxy {}; r1 aci_slots {} awaiting_destroy_ack {}",
        status_json(&bed, "op.status"),
        r1["aci_slots"],
        r1["awaiting_destroy_ack"]
    );
}
