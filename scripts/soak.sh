#!/usr/bin/env bash
# Soak test: bring up the loopback testbed, run mixed HTTP/SMTP/raw traffic through it for
# DURATION (seconds, or with a unit: 30m, 2h) while routers are killed and restarted at random,
# print the counts, tear down. Fails if any byte came back different or an acknowledged mail
# never arrived. Usage: bash scripts/soak.sh [DURATION] (default 5m)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/scripts/lib.sh"

duration=${1:-5m}
case $duration in
*h) seconds=$((${duration%h} * 3600)) ;;
*m) seconds=$((${duration%m} * 60)) ;;
*s) seconds=${duration%s} ;;
*) seconds=$duration ;;
esac
ensure_packages python3:python3 aiosmtpd:python3-aiosmtpd
ensure_rust
(cd "$root" && cargo build --release --quiet)
dir=$(mktemp -d)
trap 'bash "$root/scripts/testbed.sh" down --dir "$dir" >/dev/null; echo "logs: $dir/logs"' EXIT
bash "$root/scripts/testbed.sh" up --dir "$dir" >/dev/null
echo "==> soaking for $seconds s (testbed in $dir)"
python3 "$root/scripts/soak.py" "$dir" "$seconds"
