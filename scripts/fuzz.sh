#!/usr/bin/env bash
# Run the cargo-fuzz targets of fuzz/ one after the other (never two fuzzers at once) for SECONDS
# each (default 60) and fail if any of them crashes. New corpus entries go to
# fuzz/corpus/<target>/, crashes to fuzz/artifacts/<target>/, logs to fuzz/artifacts/logs/.
# Usage: bash scripts/fuzz.sh [SECONDS] [TARGET...]   (default: every target)
# FUZZ_RUNS=N stops a target after N executions if that comes before SECONDS (the campaign
# of docs/fuzzing.md: FUZZ_RUNS=10000000 bash scripts/fuzz.sh 3600 — 10^7 runs or 1 h).
# See docs/fuzzing.md for turning a crash into a regression input.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/lib.sh

secs=${1:-60}
shift || true
ensure_rust
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "==> installing the nightly toolchain (cargo-fuzz needs it)"
    rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    cargo +nightly install cargo-fuzz
fi

# No sanitizer: the code is safe Rust, and ASan would halve the executions. Debug assertions
# and overflow checks are on in ork's own code (fuzz/Cargo.toml's profile): an overflow is a bug
# worth a crash; in the big-integer crates below RSA and DH they would only slow RSA tenfold.
flags=(--sanitizer none)
limits=(-max_total_time="$secs")
[ -n "${FUZZ_RUNS:-}" ] && limits+=(-runs="$FUZZ_RUNS")
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
echo "==> building ${#targets[@]} target(s)"
nice -n 10 cargo +nightly fuzz build "${flags[@]}"

mkdir -p fuzz/artifacts/logs
failed=()
for t in "${targets[@]}"; do
    dirs=("fuzz/corpus/$t")
    mkdir -p "fuzz/corpus/$t"
    # Regression inputs are read (first), never written.
    [ -d "fuzz/regressions/$t" ] && dirs+=("fuzz/regressions/$t")
    log="fuzz/artifacts/logs/$t.log"
    echo "==> $t for ${secs}s (log: $log)"
    if nice -n 10 cargo +nightly fuzz run "${flags[@]}" "$t" "${dirs[@]}" -- \
        "${limits[@]}" -timeout=10 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 \
        >"$log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
        echo "    ok: ${execs:-?} executions (${rate:-?}/s), corpus $(find "fuzz/corpus/$t" -type f | wc -l) file(s)"
    else
        echo "    CRASH: see $log and fuzz/artifacts/$t/" >&2
        grep -m1 -A2 -E "panicked|ERROR: libFuzzer" "$log" >&2 || true
        failed+=("$t")
    fi
done
if [ "${#failed[@]}" -gt 0 ]; then
    echo "==> crashed: ${failed[*]}" >&2
    exit 1
fi
echo "==> all ${#targets[@]} target(s) ran ${secs}s without a crash"
