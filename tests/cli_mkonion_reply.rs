//! Runs the built `ork mkonion reply`: a batch of reply onions over a network file, the users'
//! lines, the owner's 0600 records, and `ork mkonion show` peeling the reply layers (0x02, 0x03)
//! down to the endpoint and the tag; bad arguments exit 2.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use ork::reply::line::ReplyLine;
use ork::reply::record::Record;
use serde_json::Value;

const ORK: &str = env!("CARGO_BIN_EXE_ork");

fn ork(args: &[&str]) -> Output {
    let out = Command::new(ORK).args(args).env("RUST_LOG", "warn").output().expect("run the ork binary");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "ork {args:?} panicked:\n{stderr}");
    out
}

fn ork_ok(args: &[&str]) -> String {
    let out = ork(args);
    assert!(out.status.success(), "ork {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// Five routers r1..r5 in a line r1 - r2 - r3 - r4 - r5, with keys made by `ork keygen`.
fn network(dir: &Path) -> std::path::PathBuf {
    let mut text = String::new();
    for i in 1..=5 {
        ork_ok(&["keygen", "--out", s(&dir.join(format!("r{i}")))]);
        text.push_str(&format!("router r{i} 127.0.0.1:{} r{i}.pub\n", 9000 + i));
    }
    for i in 1..5 {
        text.push_str(&format!("link r{i} r{}\n", i + 1));
    }
    let path = dir.join("network.txt");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn batch_of_reply_onions_peels_to_the_endpoint_and_tag() {
    let dir = tempfile::tempdir().unwrap();
    let net = network(dir.path());
    let state = dir.path().join("owner");
    let users = dir.path().join("replies.txt");
    let out = ork_ok(&[
        "mkonion",
        "reply",
        "--network",
        s(&net),
        "--hops",
        "3",
        "--last",
        "r5",
        "--endpoint",
        "127.0.0.1:9070",
        "--count",
        "4",
        "--expires",
        "2h",
        "--state-dir",
        s(&state),
        "-o",
        s(&users),
    ]);
    assert!(out.contains("wrote 4 reply onions") && out.contains("r3 -> r4 -> r5"), "{out}");
    assert_eq!(std::fs::metadata(&state).unwrap().permissions().mode() & 0o777, 0o700);
    let text = std::fs::read_to_string(&users).unwrap();
    let lines: Vec<ReplyLine> = text.lines().map(|l| ReplyLine::parse(l).unwrap()).collect();
    assert_eq!(lines.len(), 4);
    let records: Vec<_> = std::fs::read_dir(&state).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(records.len(), 4);
    for r in &records {
        assert_eq!(std::fs::metadata(r).unwrap().permissions().mode() & 0o777, 0o600, "{}", r.display());
    }
    let mut seen_seeds = std::collections::HashSet::new();
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line.h1.to_string(), "127.0.0.1:9003");
        assert!(seen_seeds.insert(line.user_seed), "user seeds are fresh per reply onion");
        let onion = dir.path().join(format!("onion{i}.bin"));
        std::fs::write(&onion, line.onion).unwrap();
        let keys: Vec<String> = (3..=5).map(|k| format!("{}/r{k}.key", dir.path().display())).collect();
        let shown =
            ork_ok(&["mkonion", "show", "--key", &keys[0], "--key", &keys[1], "--key", &keys[2], s(&onion), "--json"]);
        let layers: Value = serde_json::from_str(&shown).unwrap();
        let versions: Vec<u64> = layers.as_array().unwrap().iter().map(|l| l["version"].as_u64().unwrap()).collect();
        assert_eq!(versions, [2, 2, 3]);
        assert_eq!(layers[0]["next_hop"], "127.0.0.1:9004");
        assert_eq!(layers[1]["next_hop"], "127.0.0.1:9005");
        assert_eq!(layers[2]["endpoint"], "127.0.0.1:9070");
        assert_eq!(layers[2]["exit"], false);
        assert_eq!(u64::from(line.expiration), layers[2]["expiration"].as_u64().unwrap());
        // The owner's record for this onion: named by the tag, holding hn's seed and the user seed.
        let tag = layers[2]["tag"].as_str().unwrap();
        let rec = std::fs::read_to_string(state.join(format!("{tag}.reply"))).unwrap();
        match Record::parse(&rec).unwrap() {
            Record::Live(r) => {
                assert_eq!(r.seeds.len(), 3);
                assert_eq!(hex::encode(r.seeds[2]), layers[2]["key_seed"].as_str().unwrap());
                assert_eq!(r.user_seed, line.user_seed);
                assert_eq!(r.expiration, line.expiration);
            }
            other => panic!("fresh record is {other:?}"),
        }
        // `peel` prints the endpoint layer with its tag.
        let last = dir.path().join(format!("last{i}.bin"));
        let inner = ork_ok(&["mkonion", "peel", "--key", &keys[0], s(&onion), "-o", s(&last)]);
        assert!(inner.contains("version      2 (reply relay)"), "{inner}");
        let last2 = dir.path().join(format!("last2-{i}.bin"));
        ork_ok(&["mkonion", "peel", "--key", &keys[1], s(&last), "-o", s(&last2)]);
        let end = ork_ok(&["mkonion", "peel", "--key", &keys[2], s(&last2)]);
        assert!(end.contains("reply endpoint 127.0.0.1:9070") && end.contains(&format!("tag          {tag}")), "{end}");
    }
}

#[test]
fn bad_arguments_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let net = network(dir.path());
    let state = dir.path().join("owner");
    let users = dir.path().join("replies.txt");
    let base = ["mkonion", "reply", "--network", s(&net), "--state-dir", s(&state), "-o", s(&users)];
    for (extra, why) in [
        (&["--endpoint", "0.0.0.0:0"][..], "non-zero"),
        (&["--endpoint", "127.0.0.1:9070", "--hops", "6"][..], "1 to 5"),
        (&["--endpoint", "127.0.0.1:9070", "--last", "nobody"][..], "no such router"),
        (&["--endpoint", "127.0.0.1:9070", "--count", "0"][..], "--count"),
    ] {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let out = ork(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(why), "{extra:?}: {err}");
    }
    assert!(!users.exists(), "nothing written on a usage error");
}
