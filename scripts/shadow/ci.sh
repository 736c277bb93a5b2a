#!/usr/bin/env bash
# The small Shadow run CI checks (scripts/test.sh): 20 routers, 10 clients x 3 anonymous
# connections at a time, 3 servers, 60 simulated seconds, packet capture on.
#   - every connection succeeds, bodies checked by SHA-256 at the clients (report.py --check);
#   - a second run of the same configuration and seed gives the identical report and the same
#     adversary figures;
#   - the timing adversary scores 100 % on the control (mixing off, one connection in the whole
#     network at a time); its figures on the mixed run are printed, not asserted.
# Uses $ORK, else the debug build (`cargo build`, a no-op after `cargo test`). Without any Shadow
# it says SKIPPED loudly and exits 0. Work files in WORKDIR (kept), else in a temporary directory
# removed on exit, also on failure.
set -euo pipefail
main() {
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    sh=$root/scripts/shadow.sh
    work=${1:-}
    if [ -z "$work" ]; then
        work=$(mktemp -d "${TMPDIR:-/tmp}/ork-shadow-ci.XXXXXX")
        trap 'rm -rf "$work"' EXIT # also on failure; pass a WORKDIR to keep the files
    else
        mkdir -p "$work"
    fi
    target=${CARGO_TARGET_DIR:-$root/target}
    if [ -z "${ORK:-}" ]; then
        (cd "$root" && cargo build --quiet) # a no-op after `cargo test`
    fi
    ork=${ORK:-$target/debug/ork}
    if ! "$sh" where >/dev/null 2>&1; then
        echo "SKIPPED: the Shadow CI run: no Shadow (set SHADOW, put shadow on PATH, or provide the prebuilt copy)" >&2
        exit 0
    fi
    echo "==> shadow CI run with $ork, files in $work"

    common=(--routers 20 --neighbours 4 --clients 10 --servers 3 --duration 60 --seed 7 --pcap --ork "$ork")
    "$sh" gen --out "$work/a" "${common[@]}" --slots 3 --bulk-kib 512
    # Same keys, same configuration, run twice.
    cp -r "$work/a" "$work/b"
    sed -i "s|$work/a|$work/b|g" "$work/b/shadow.yaml"
    "$sh" gen --out "$work/control" "${common[@]}" --mode control --mix-interval 0
    for d in a b control; do "$sh" run "$work/$d"; done

    "$sh" report "$work/a" --check >/dev/null
    "$sh" report "$work/b" --check >/dev/null
    cat "$work/a/report.md"
    if ! diff -u "$work/a/report.md" "$work/b/report.md"; then
        echo "shadow CI: two runs with the same seed gave different reports" >&2
        exit 1
    fi
    echo "==> two runs with seed 7: identical reports; every connection succeeded (SHA-256 checked)"
    "$sh" attack "$work/a" "$work/b"
    for d in a b; do sed 's|"dir": .*||' "$work/$d/attack.json" >"$work/$d/attack.cmp"; done
    diff -u "$work/a/attack.cmp" "$work/b/attack.cmp" || { echo "shadow CI: the adversary's figures differ between the two runs" >&2; exit 1; }
    "$sh" report "$work/control" --check >/dev/null
    "$sh" attack "$work/control" --expect-all
    echo "==> the adversary matched every connection of the control (mixing off, one at a time)"
}

# Read whole before it runs: editing this file during a run cannot break it.
main "$@"; exit
