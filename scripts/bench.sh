#!/usr/bin/env bash
# End-to-end benchmark on loopback (docs/performance.md): builds ork in release mode, generates
# keys with `ork keygen`, stands up five routers (full mesh) and onion proxies on 127.0.0.1 and
# measures, with mixing interval 0 and the default, each figure beside a reference from the
# same run: bulk throughput over 1..5 hops per cipher vs a direct loopback copy, connect → first
# byte latency over 5 hops vs direct, one router's onion rate under a CREATE flood vs its RSA
# bound, and 10,000 idle anonymous connections (router RSS, throughput of one more).
# Writes bench-results/results.{md,json} and PNG plots, and prints the table.
# Usage: bash scripts/bench.sh [bench.py run options, e.g. --idle 2000 --mix 0]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/lib.sh

ensure_rust
# Debian's python3 with its matplotlib (the plots); the measurements need only the stdlib.
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
if ! "$py" -c 'import matplotlib' 2>/dev/null; then
    ensure_packages python3:python3
    echo "==> installing python3-matplotlib with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends python3-matplotlib
    py=/usr/bin/python3
fi

echo "==> cargo build --release (ork and the onion_flood helper)"
cargo build --release --quiet --bin ork --example onion_flood

# 10,000 connections need ~10,000 descriptors in the onion proxy, the exit routers, the
# destination server and the driver each: raise the limit as far as we may.
ulimit -Hn 65536 2>/dev/null || true
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true

mkdir -p bench-results
bin=${CARGO_TARGET_DIR:-target}/release
exec "$py" scripts/bench.py run --ork "$bin/ork" --flood "$bin/examples/onion_flood" \
    --out bench-results "$@"
