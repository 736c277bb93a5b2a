//! Process tests of a network that grows while it runs (docs/directory.md, "Joining"): a new
//! operator's router given only the authorities file joins a running network — its descriptor
//! enters the consensus, the running routers link with it without a restart, and an onion
//! proxy that fetched the document enters the network through it; and a router whose
//! neighbours file gains a line uploads a new descriptor without a restart.

mod procs;

use std::process::Stdio;
use std::time::Duration;

use procs::directory::*;
use procs::*;

/// Links of `name` in a `show --json` document.
fn links_of(v: &serde_json::Value, name: &str) -> usize {
    v["links"].as_array().map_or(0, |a| a.iter().filter(|l| l[0] == name || l[1] == name).count())
}

fn ring(n: usize) -> Vec<(usize, usize)> {
    (0..n).map(|i| (i, (i + 1) % n)).collect()
}

#[test]
fn a_router_given_only_the_authorities_file_joins_a_running_network() {
    // The running network: five routers in a ring, open to routers that declare links to them.
    let mut bed = Bed::new(5, ring(5));
    let ports = authorities(&bed, 3);
    for (i, &p) in ports.iter().enumerate() {
        start_authority(&mut bed, i, p);
    }
    bed.start_routers(&[
        "--directory",
        "authorities",
        "--name",
        "r{i}",
        "--publish-interval",
        "1m",
        "--links-from-directory",
    ]);
    wait_for("five routers in the document", Duration::from_secs(40), || {
        show(&bed).is_some_and(|v| router_names(&v).len() == 5 && v["links"].as_array().map(Vec::len) == Some(5))
    });

    // The new operator: a key, the authorities file, nothing else.
    let st = ork().args(["keygen", "--out", "newcomer"]).current_dir(bed.dir.path()).stdout(Stdio::null()).status();
    assert!(st.expect("keygen").success());
    let port = free_port();
    let args: Vec<String> = [
        "router",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--key",
        "newcomer.key",
        "--directory",
        "authorities",
        "--name",
        "newcomer",
        "--state-dir",
        "state-newcomer",
        "--exit-policy",
        "exit-policy.txt",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    bed.spawn("newcomer", &args);
    wait_for("the newcomer linked with all five", Duration::from_secs(60), || bed.links_up("newcomer") >= 5);
    wait_for("the newcomer's five links in the document", Duration::from_secs(40), || {
        show(&bed).is_some_and(|v| router_names(&v).len() == 6 && links_of(&v, "newcomer") == 5)
    });
    let log = bed.log("newcomer");
    assert!(log.contains("descriptor uploaded to authority"), "{log}");
    for i in 1..=5 {
        let r = bed.log(&format!("r{i}"));
        assert!(
            r.contains("(directory: router newcomer, declares a link to this router)"),
            "r{i} took the newcomer: {r}"
        );
        assert!(r.contains("links changed (1 added, 3 in all): uploading a new descriptor"), "r{i}: {r}");
        assert_eq!(r.matches("listening on").count(), 1, "r{i} was not restarted");
    }

    // An onion proxy that knows only the authorities file enters through the newcomer: every
    // connection's first hop is the router that was not there when the network started.
    let op = free_port();
    let args: Vec<String> =
        ["onion-proxy", "--listen", &format!("127.0.0.1:{op}"), "--directory", "authorities", "--entry", "newcomer"]
            .iter()
            .map(|s| s.to_string())
            .chain(["--state-dir", "state-op", "--hops", "5"].iter().map(|s| s.to_string()))
            .collect();
    bed.spawn("op", &args);
    wait_for("onion proxy uplink", Duration::from_secs(20), || bed.log("op").contains("uplink to"));
    assert!(bed.log("op").contains(&format!("uplink to 127.0.0.1:{port}")), "{}", bed.log("op"));
    let echo = echo_server();
    for _ in 0..3 {
        assert!(echo_ok(op, echo), "five hops entering at the newcomer");
    }
    let log = bed.log("newcomer");
    assert!(log.contains("link up: anonymous client"), "the onion proxy's uplink is at the newcomer: {log}");
}

#[test]
fn a_new_neighbours_line_is_uploaded_without_a_restart() {
    // r1 - r2 - r3 in a line; later r1 and r3 each add the other to their neighbours file.
    let mut bed = Bed::new(3, vec![(0, 1), (1, 2)]);
    let ports = authorities(&bed, 1);
    start_authority(&mut bed, 0, ports[0]);
    bed.start_routers(&["--directory", "authorities", "--name", "r{i}", "--publish-interval", "1h"]);
    wait_for("two links in the document", Duration::from_secs(40), || {
        show(&bed).is_some_and(|v| router_names(&v).len() == 3 && v["links"].as_array().map(Vec::len) == Some(2))
    });
    // r1 names r3 without a key path (the key comes from the document); r3 names r1 with its key.
    let add = |file: &str, line: String| {
        let path = bed.path(file);
        let mut text = std::fs::read_to_string(&path).expect("read neighbours");
        text += &line;
        std::fs::write(&path, text).expect("write neighbours");
    };
    add("r1.neighbors", format!("127.0.0.1:{}\n", bed.ports[2]));
    add("r3.neighbors", format!("127.0.0.1:{} r1.pub\n", bed.ports[0]));
    wait_for("link r1 r3 in the document", Duration::from_secs(40), || {
        show(&bed).is_some_and(|v| links_of(&v, "r1") == 2 && links_of(&v, "r3") == 2)
    });
    wait_for("r1 and r3 linked", Duration::from_secs(20), || bed.links_up("r1") >= 2 && bed.links_up("r3") >= 2);
    for r in ["r1", "r3"] {
        let log = bed.log(r);
        assert!(log.contains("neighbours file changed: 2 line(s)"), "{r}: {log}");
        assert!(log.contains("links changed (1 added, 2 in all): uploading a new descriptor"), "{r}: {log}");
        assert_eq!(log.matches("listening on").count(), 1, "{r} was not restarted");
    }
    assert!(bed.log("r1").contains("(directory: router r3, neighbours file)"), "{}", bed.log("r1"));

    // A broken line is refused with the reason and changes nothing; a removed line needs a restart.
    add("r2.neighbors", "not-an-address\n".into());
    wait_for("r2 refuses its broken file", Duration::from_secs(15), || {
        bed.log("r2").contains("neighbours file not read again:")
    });
    std::fs::write(bed.path("r3.neighbors"), format!("127.0.0.1:{} r2.pub\n", bed.ports[1])).expect("write");
    wait_for("r3 says removal needs a restart", Duration::from_secs(15), || {
        bed.log("r3").contains(&format!(
            "neighbours file: 127.0.0.1:{} removed; a neighbour is only dropped at restart",
            bed.ports[0]
        ))
    });
}

#[test]
fn a_new_key_is_taken_and_uploaded_without_a_restart() {
    // Three routers whose neighbours files give no keys: the keys come from the document.
    let mut bed = Bed::new(3, full_mesh(3));
    for i in 0..3 {
        let others: String = (0..3).filter(|&j| j != i).map(|j| format!("127.0.0.1:{}\n", bed.ports[j])).collect();
        std::fs::write(bed.path(&format!("r{}.neighbors", i + 1)), others).expect("write neighbours");
    }
    let ports = authorities(&bed, 1);
    start_authority(&mut bed, 0, ports[0]);
    let args = ["--directory", "authorities", "--name", "r{i}", "--publish-interval", "1h"];
    for i in 0..3 {
        let a = bed.router_args(i, &args);
        bed.spawn(&format!("r{}", i + 1), &a);
    }
    let fingerprint = |v: &serde_json::Value, name: &str| {
        let routers = v["routers"].as_array().cloned().unwrap_or_default();
        routers.iter().find(|r| r["name"] == name).and_then(|r| r["fingerprint"].as_str().map(str::to_owned))
    };
    wait_for("three routers and their links in the document", Duration::from_secs(60), || {
        show(&bed).is_some_and(|v| router_names(&v).len() == 3 && v["links"].as_array().map(Vec::len) == Some(3))
    });
    wait_for("all links up", Duration::from_secs(30), || (1..=3).all(|i| bed.links_up(&format!("r{i}")) >= 2));
    let old = show(&bed).and_then(|v| fingerprint(&v, "r2")).expect("r2 listed");

    // r2's operator replaces its key file (a rename, so it is never read half-written).
    let st = ork().args(["keygen", "--out", "r2new"]).current_dir(bed.dir.path()).stdout(Stdio::null()).status();
    assert!(st.expect("keygen").success());
    std::fs::rename(bed.path("r2new.key"), bed.path("r2.key")).expect("replace the key file");
    wait_for("r2 listed with its new key", Duration::from_secs(40), || {
        show(&bed).is_some_and(|v| fingerprint(&v, "r2").is_some_and(|f| f != old) && router_names(&v).len() == 3)
    });
    let new = show(&bed).and_then(|v| fingerprint(&v, "r2")).expect("r2 listed");
    let r2 = bed.log("r2");
    assert!(r2.contains("key file changed: handshakes and onions now use the new key"), "{r2}");
    assert!(r2.contains(&format!("new key {new}: uploading a new descriptor")), "{r2}");
    assert_eq!(r2.matches("listening on").count(), 1, "r2 was not restarted");
    let r2_addr = format!("127.0.0.1:{}", bed.ports[1]);
    for r in ["r1", "r3"] {
        wait_for("r1 and r3 take r2's new key", Duration::from_secs(20), || {
            bed.log(r).contains(&format!("neighbour {r2_addr}: new key, from (directory: router r2)"))
        });
    }
    // An onion proxy keys its uplink with r2's new key (from the document) and its onions are
    // peeled with it.
    let op = free_port();
    let args: Vec<String> =
        ["onion-proxy", "--listen", &format!("127.0.0.1:{op}"), "--directory", "authorities", "--entry", "r2"]
            .iter()
            .chain(&["--hops", "3", "--state-dir", "state-op"])
            .map(|s| s.to_string())
            .collect();
    bed.spawn("op", &args);
    wait_for("onion proxy uplink", Duration::from_secs(20), || bed.log("op").contains("uplink to"));
    let echo = echo_server();
    assert!(echo_ok(op, echo), "three hops entering at r2 with its new key");
    // r1 restarted takes r2's new key from the document and links with r2 again.
    bed.kill("r1");
    let before = bed.log("r2").matches("link up: router").count();
    bed.restart("r1");
    wait_for("r1 and r2 linked again", Duration::from_secs(30), || {
        bed.log("r2").matches("link up: router").count() > before
    });
}
