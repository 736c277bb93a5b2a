//! The fuzz targets on stable Rust: every target's built-in seeds and every file of
//! `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` go through the same harness function
//! (`ork::fuzzing`) that `fuzz/fuzz_targets/<target>.rs` runs under libFuzzer, so a crash once
//! found stays fixed. See docs/fuzzing.md.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use ork::fuzzing::{seeds::seeds, TARGETS};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Run `f` on each input; report every failing one by name, not just the first.
fn replay(target: &str, f: fn(&[u8]), inputs: impl IntoIterator<Item = (String, Vec<u8>)>) -> (usize, Vec<String>) {
    let mut failed = Vec::new();
    let mut count = 0;
    for (name, data) in inputs {
        count += 1;
        if catch_unwind(AssertUnwindSafe(|| f(&data))).is_err() {
            failed.push(format!("{target}/{name}"));
        }
    }
    (count, failed)
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).expect("readable input")))
        .collect();
    out.sort();
    out
}

#[test]
fn every_target_has_a_fuzz_binary_and_seeds() {
    for (name, _) in TARGETS {
        let bin = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&bin).unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
        assert!(text.contains(&format!("ork::fuzzing::{name}(")), "{} does not call its harness", bin.display());
        assert!(!seeds(name).is_empty(), "{name} has no seeds");
    }
}

#[test]
fn seeds_pass() {
    let mut failed = Vec::new();
    for &(name, f) in TARGETS {
        failed.extend(replay(name, f, seeds(name)).1);
    }
    assert!(failed.is_empty(), "failing seeds: {failed:?}");
}

#[test]
fn corpus_and_regressions_replay() {
    let mut failed = Vec::new();
    for &(name, f) in TARGETS {
        for kind in ["corpus", "regressions"] {
            let (n, bad) = replay(name, f, files(&fuzz_dir().join(kind).join(name)));
            eprintln!("{kind}/{name}: {n} input(s)");
            failed.extend(bad.into_iter().map(|b| format!("{kind}/{b}")));
        }
    }
    assert!(failed.is_empty(), "failing inputs: {failed:?}");
}

/// Write the built-in seeds into `fuzz/corpus/<target>/` (before a first fuzzing run).
#[test]
#[ignore]
fn write_seeds() {
    for (name, _) in TARGETS {
        let dir = fuzz_dir().join("corpus").join(name);
        std::fs::create_dir_all(&dir).expect("corpus directory");
        for (seed, data) in seeds(name) {
            std::fs::write(dir.join(seed), data).expect("seed written");
        }
    }
}
