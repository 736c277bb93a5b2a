#!/usr/bin/env bash
# The timing-analysis experiment (docs/anonymity.md): one network (30 routers, 20 clients,
# 3 servers, 120 simulated seconds, seed 11, packet capture on), run once per scenario with one
# thing changed from the baseline (mixing 10 ms, no padding, 5 hops, light load: 1 connection
# at a time per client), then the adversary on every run.
#   scripts/shadow.sh timing OUTDIR [SCENARIO...]     (default: all)
# OUTDIR/timing.md gets the table; OUTDIR/SCENARIO/ keeps each run's report and attack.json
# (the captures and logs are deleted unless KEEP=1). Uses $ORK, else target/release/ork.
set -euo pipefail
main() {
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    sh=$root/scripts/shadow.sh
    out=${1:?usage: scripts/shadow.sh timing OUTDIR [SCENARIO...]}
    shift
    ork=${ORK:-$root/target/release/ork}
    mkdir -p "$out"
    out=$(cd "$out" && pwd)
    base=(--routers 30 --neighbours 4 --clients 20 --servers 3 --duration 120 --seed 11 --pcap --ork "$ork"
        --bulk-kib 1024)

    # name: what differs from the baseline.
    declare -A scen=(
        [control]="--mode control --mix-interval 0"
        [base]="--slots 1"
        [mix0]="--slots 1 --mix-interval 0"
        [mix50]="--slots 1 --mix-interval 50ms"
        [pad]="--slots 1 --padding-rate 100"
        [hops3]="--slots 1 --hops 3"
        [heavy]="--slots 6"
        [heavy-mix50-pad]="--slots 6 --mix-interval 50ms --padding-rate 100"
    )
    order=(control base mix0 mix50 pad hops3 heavy heavy-mix50-pad)
    [ $# -eq 0 ] || order=("$@")
    dirs=()
    for s in "${order[@]}"; do
        [ -n "${scen[$s]+x}" ] || { echo "timing: unknown scenario $s (${!scen[*]})" >&2; exit 2; }
        d=$out/$s
        rm -rf "$d"
        # shellcheck disable=SC2086 # the scenario's options are words
        "$sh" gen --out "$d" "${base[@]}" ${scen[$s]}
        "$sh" run "$d"
        "$sh" report "$d" >/dev/null
        dirs+=("$d")
    done
    "$sh" attack "${dirs[@]}" --plot "$out/timing" | tee "$out/timing.md"
    if [ "${KEEP:-0}" != 1 ]; then
        for d in "${dirs[@]}"; do rm -rf "$d/shadow.data" "$d/keys"; done
    fi
}

# Read whole before it runs: editing this file during a run cannot break it.
main "$@"; exit
