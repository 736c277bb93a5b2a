//! Runs the built `ork` binary: keygen → mkonion build → peel ×5 recovers the route, wrong keys
//! fail cleanly, builds are reproducible and match the protocol.md §5 vectors, and OpenSSL reads the keys.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;
use tempfile::TempDir;

const ORK: &str = env!("CARGO_BIN_EXE_ork");
/// Far enough ahead that no test onion expires while the tests run.
const EXPIRATION: &str = "4000000000";

fn ork(args: &[&str]) -> Output {
    let out = Command::new(ORK).args(args).env("RUST_LOG", "warn").output().expect("run the ork binary");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "ork {args:?} panicked:\n{stderr}");
    out
}

/// Run ork and require exit status 0; returns stdout.
fn ork_ok(args: &[&str]) -> String {
    let out = ork(args);
    assert!(out.status.success(), "ork {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// Five key pairs made with `ork keygen`, shared by the tests: (dir, prefixes r1..r5).
fn keys() -> &'static (TempDir, Vec<PathBuf>) {
    static KEYS: OnceLock<(TempDir, Vec<PathBuf>)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let prefixes: Vec<PathBuf> = (1..=5).map(|i| dir.path().join(format!("r{i}"))).collect();
        for p in &prefixes {
            let out = ork_ok(&["keygen", "--out", s(p)]);
            assert!(out.contains("wrote"), "{out}");
        }
        (dir, prefixes)
    })
}

fn with_ext(prefix: &Path, ext: &str) -> String {
    format!("{}.{ext}", prefix.display())
}

fn hop_args(prefixes: &[PathBuf]) -> Vec<String> {
    prefixes
        .iter()
        .enumerate()
        .flat_map(|(i, p)| ["--hop".to_string(), format!("127.0.0.1:{}={}", 9001 + i, with_ext(p, "pub"))])
        .collect()
}

fn build(dir: &Path, name: &str, hops: &[String], extra: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let mut args: Vec<&str> = vec!["mkonion", "build", "-o", s(&out)];
    args.extend(hops.iter().map(String::as_str));
    args.extend_from_slice(extra);
    ork_ok(&args);
    out
}

#[test]
fn five_hop_onion_peels_back_to_the_route() {
    let (_, prefixes) = keys();
    let dir = tempfile::tempdir().unwrap();
    let mut onion = build(dir.path(), "onion.bin", &hop_args(prefixes), &["--forw", "rc4", "--back", "des"]);
    assert_eq!(std::fs::read(&onion).unwrap().len(), 240);
    let mut revealed = Vec::new();
    for (i, p) in prefixes.iter().enumerate() {
        let inner = dir.path().join(format!("inner{}.bin", i + 1));
        let json = ork_ok(&["mkonion", "peel", "--key", &with_ext(p, "key"), s(&onion), "-o", s(&inner), "--json"]);
        let layer: Value = serde_json::from_str(&json).expect("peel --json prints JSON");
        assert_eq!(layer["version"], 1);
        assert_eq!((layer["forw_f"].as_str(), layer["back_f"].as_str()), (Some("rc4"), Some("des-ofb")));
        assert_eq!(layer["expired"], false);
        for k in ["key_seed", "key1", "key2", "key3"] {
            assert!(layer[k].as_str().is_some_and(|h| h.len() >= 32), "{k}: {layer}");
        }
        revealed.push(layer["next_hop"].as_str().unwrap_or("exit").to_string());
        assert_eq!(layer["exit"], i == 4);
        assert_eq!(std::fs::read(&inner).unwrap().len(), 240);
        onion = inner;
    }
    // Router i learns the address of router i+1; the last one learns it is the exit.
    assert_eq!(revealed, ["127.0.0.1:9002", "127.0.0.1:9003", "127.0.0.1:9004", "127.0.0.1:9005", "exit"]);

    // The text form names the same things.
    let text = ork_ok(&["mkonion", "peel", "--key", &with_ext(&prefixes[0], "key"), s(&dir.path().join("onion.bin"))]);
    for want in ["version      1", "ForwF        rc4 (2)", "BackF        des-ofb (1)", "next hop     127.0.0.1:9002"] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    // show peels every layer at once.
    let mut args = vec!["mkonion", "show", "--json"];
    let keys: Vec<String> = prefixes.iter().map(|p| with_ext(p, "key")).collect();
    for k in &keys {
        args.extend(["--key", k.as_str()]);
    }
    let onion0 = dir.path().join("onion.bin");
    args.push(s(&onion0));
    let layers: Value = serde_json::from_str(&ork_ok(&args)).unwrap();
    assert_eq!(layers.as_array().map(Vec::len), Some(5));
    assert_eq!(layers[4]["exit"], true);
}

#[test]
fn wrong_key_fails_with_status_1_and_a_reason() {
    // Fixed vector keys and a deterministic onion, so the wrong-key result is the same every run
    // (a random wrong key passes the layer checks about once in 2,600 tries).
    let dir = tempfile::tempdir().unwrap();
    let (privs, pubs) = vector_keys(dir.path());
    let hops: Vec<String> =
        pubs.iter().enumerate().flat_map(|(i, p)| ["--hop".into(), format!("127.0.0.1:{}={p}", 9001 + i)]).collect();
    let onion = build(dir.path(), "o.bin", &hops, &["--deterministic", "1", "--expiration", EXPIRATION]);
    for wrong in &privs[1..] {
        let out = ork(&["mkonion", "peel", "--key", wrong, s(&onion), "-o", s(&dir.path().join("x"))]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("wrong key"), "{stderr}");
        assert!(stderr.contains("version") || stderr.contains("zero bit") || stderr.contains("function code"));
        assert!(!dir.path().join("x").exists(), "nothing written on failure");
    }
    // A public key given as --key is a configuration error.
    let out = ork(&["mkonion", "peel", "--key", &pubs[0], s(&onion)]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn deterministic_builds_are_byte_identical() {
    let (_, prefixes) = keys();
    let dir = tempfile::tempdir().unwrap();
    let hops = hop_args(prefixes);
    let fixed = ["--deterministic", "42", "--expiration", EXPIRATION];
    let a = std::fs::read(build(dir.path(), "a", &hops, &fixed)).unwrap();
    let b = std::fs::read(build(dir.path(), "b", &hops, &fixed)).unwrap();
    let c =
        std::fs::read(build(dir.path(), "c", &hops, &["--deterministic", "43", "--expiration", EXPIRATION])).unwrap();
    let d = std::fs::read(build(dir.path(), "d", &hops, &["--expiration", EXPIRATION])).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_ne!(a, d);
}

#[test]
fn keygen_refuses_to_overwrite_and_writes_a_0600_private_key() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("k");
    ork_ok(&["keygen", "--out", s(&prefix)]);
    let key_path = with_ext(&prefix, "key");
    let mode = |p: &str| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&key_path), 0o600);
    let before = std::fs::read(&key_path).unwrap();

    let out = ork(&["keygen", "--out", s(&prefix)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert_eq!(std::fs::read(&key_path).unwrap(), before, "refusal leaves the key alone");

    // --force replaces it, and the new file is 0600 even if the old one was not.
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    ork_ok(&["keygen", "--out", s(&prefix), "--force"]);
    assert_ne!(std::fs::read(&key_path).unwrap(), before);
    assert_eq!(mode(&key_path), 0o600);
}

#[test]
fn openssl_reads_both_keys() {
    let (_, prefixes) = keys();
    let version = Command::new("openssl").arg("version").output();
    assert!(
        version.is_ok_and(|o| o.status.success()),
        "openssl is not installed: run `bash scripts/test.sh`, which installs what the tests need"
    );
    let key = with_ext(&prefixes[0], "key");
    let public = with_ext(&prefixes[0], "pub");
    let text = Command::new("openssl").args(["pkey", "-in", &key, "-noout", "-text"]).output().unwrap();
    assert!(text.status.success(), "{}", String::from_utf8_lossy(&text.stderr));
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("1024 bit"), "{text}");
    assert!(text.contains("65537"), "{text}");
    let public = Command::new("openssl").args(["pkey", "-pubin", "-in", &public, "-noout"]).output().unwrap();
    assert!(public.status.success(), "{}", String::from_utf8_lossy(&public.stderr));
}

fn load_vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/onions.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Write the vector keys into `dir`: (private paths, public paths).
fn vector_keys(dir: &Path) -> (Vec<String>, Vec<String>) {
    let v = load_vectors();
    let write = |field: &str, ext: &str| -> Vec<String> {
        let pems = v[field].as_array().unwrap();
        pems.iter()
            .enumerate()
            .map(|(i, pem)| {
                let p = dir.join(format!("v{i}.{ext}"));
                std::fs::write(&p, pem.as_str().unwrap()).unwrap();
                // Private key files must not be open to others (ork refuses them).
                std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
                s(&p).to_string()
            })
            .collect()
    };
    (write("keys_pkcs8_pem", "key"), write("public_spki_pem", "pub"))
}

#[test]
fn build_and_peel_reproduce_the_spec_vectors() {
    let v = load_vectors();
    let dir = tempfile::tempdir().unwrap();
    let (privs, pubs) = vector_keys(dir.path());
    for (n, o) in v["onions"].as_array().unwrap().iter().enumerate() {
        let mut args: Vec<String> = vec!["mkonion".into(), "build".into()];
        for (i, addr) in o["route"].as_array().unwrap().iter().enumerate() {
            args.extend(["--hop".into(), format!("{}={}", addr.as_str().unwrap(), pubs[i])]);
        }
        for seed in o["seeds_hex"].as_array().unwrap() {
            args.extend(["--seed-hex".into(), seed.as_str().unwrap().into()]);
        }
        args.extend(["--pad-hex".into(), o["innermost_pad_hex"].as_str().unwrap().into()]);
        args.extend(["--expiration".into(), o["expiration"].to_string()]);
        args.extend(["--forw".into(), o["forw_f"].to_string(), "--back".into(), o["back_f"].to_string()]);
        let out = dir.path().join(format!("vector{n}.bin"));
        args.extend(["-o".into(), s(&out).into()]);
        ork_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(hex::encode(std::fs::read(&out).unwrap()), o["onion_hex"].as_str().unwrap(), "onion {n}");

        // Peeling with the vector's re-padding reproduces every inner onion.
        let mut onion = out;
        for (h, hop) in o["peeled"].as_array().unwrap().iter().enumerate() {
            let router = hop["router"].as_u64().unwrap() as usize;
            let inner = dir.path().join(format!("vector{n}.{h}"));
            let repad = hop["repad_hex"].as_str().unwrap();
            let peel = ["mkonion", "peel", "--key", &privs[router], s(&onion), "--repad-hex", repad, "-o", s(&inner)];
            let json: Value =
                serde_json::from_str(&ork_ok(&[&peel[..], &["--json", "--no-time-check"]].concat())).unwrap();
            assert_eq!(json["key1"], hop["layer"]["key1"]);
            let want = format!("{}{repad}", hop["inner_before_repad_hex"].as_str().unwrap());
            assert_eq!(hex::encode(std::fs::read(&inner).unwrap()), want, "onion {n} hop {h}");
            onion = inner;
        }
    }
}

#[test]
fn exit_status_marks_usage_and_configuration_errors() {
    let out = ork(&["mkonion", "build", "-o", "/nonexistent/x"]);
    assert_eq!(out.status.code(), Some(2), "no --hop is a usage error");
    let out = ork(&["router", "--key", "/nonexistent/k.key", "--neighbors", "n"]);
    assert_eq!(out.status.code(), Some(2), "a missing key file is a configuration error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/k.key"), "names the file");
}

/// `--config FILE` (issue 6): a TOML file supplies options, the command line overrides it, and
/// a bad entry is a configuration error (status 2) naming the file and line.
#[test]
fn config_file_supplies_options_and_flags_override() {
    let dir = TempDir::new().expect("tempdir");
    let d = dir.path();
    let cfg = d.join("ork.toml");
    let build = "[mkonion.build]\nhop = [\"127.0.0.1:9001=r1.pub\"]\nexpires = \"90s\"\n";
    ork_ok(&["keygen", "--out", &d.join("r1").display().to_string()]);
    std::fs::write(&cfg, build.replace("r1.pub", &d.join("r1.pub").display().to_string())).expect("write config");
    let onion = d.join("o.bin").display().to_string();
    let key = d.join("r1.key").display().to_string();
    ork_ok(&["mkonion", "build", "--config", &cfg.display().to_string(), "-o", &onion]);
    let shown: Value =
        serde_json::from_str(&ork_ok(&["mkonion", "peel", "--key", &key, &onion, "--json"])).expect("json");
    let left = shown["seconds_left"].as_i64().unwrap_or(shown["expires_in"].as_i64().unwrap_or(-1));
    assert!((80..=90).contains(&left), "expires from the file (90 s): {shown}");
    ork_ok(&["mkonion", "build", "--config", &cfg.display().to_string(), "--expires", "10s", "-o", &onion]);
    let shown: Value =
        serde_json::from_str(&ork_ok(&["mkonion", "peel", "--key", &key, &onion, "--json"])).expect("json");
    let left = shown["seconds_left"].as_i64().unwrap_or(shown["expires_in"].as_i64().unwrap_or(-1));
    assert!((1..=10).contains(&left), "the flag overrides the file: {shown}");

    std::fs::write(&cfg, "[mkonion.build]\nhop = []\n\nexpire = \"90s\"\n").expect("write config");
    let out = ork(&["mkonion", "build", "--config", &cfg.display().to_string(), "-o", &onion]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:4: unknown setting `expire`", cfg.display())), "{err}");
}
