#!/usr/bin/env bash
# The main job: build ork, stand up a five-router testbed on 127.0.0.1 (full mesh, keys from
# `ork keygen`), an onion proxy and a real HTTP server, fetch a page through a five-hop anonymous
# connection with `ork connect`, show what the server saw and the route taken, then tear it all
# down. Only loopback traffic. Usage: bash scripts/demo.sh [BASE-PORT]  (default 9001)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/lib.sh

base=${1:-9001}
ensure_packages python3:python3
ensure_rust
echo "==> cargo build --release"
cargo build --release --quiet
ork=$PWD/target/release/ork

dir=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

cd "$dir"
echo "==> five routers on 127.0.0.1:$base..$((base + 4)), keys and files in $dir"
for i in 1 2 3 4 5; do "$ork" keygen --out "r$i" >/dev/null; done
: >network.txt
for i in 1 2 3 4 5; do
    echo "router r$i 127.0.0.1:$((base + i - 1)) r$i.pub" >>network.txt
    : >"r$i.peers"
    for j in 1 2 3 4 5; do
        [ "$i" = "$j" ] || echo "127.0.0.1:$((base + j - 1)) r$j.pub" >>"r$i.peers"
        [ "$i" -lt "$j" ] && echo "link r$i r$j" >>network.txt
    done
done
echo "accept 127.0.0.0/8:*" >exit-policy.txt
for i in 1 2 3 4 5; do
    RUST_LOG=info "$ork" router --listen "127.0.0.1:$((base + i - 1))" --key "r$i.key" --neighbors "r$i.peers" \
        --exit-policy exit-policy.txt --state-dir "state-r$i" --status-file "r$i.status" 2>"r$i.log" &
    pids+=($!)
done
http=$((base + 79))
proxy=$((base + 49))
mkdir www
echo "<html><body>Hello from the other end of five onion routers.</body></html>" >www/index.html
python3 -m http.server "$http" --bind 127.0.0.1 --directory www 2>http.log >/dev/null &
pids+=($!)
for _ in $(seq 100); do
    up=0
    for i in 1 2 3 4 5; do
        n=$(grep -c "link up: router" "r$i.log" || true)
        [ "$n" -ge 4 ] && up=$((up + 1))
    done
    [ "$up" -eq 5 ] && break
    sleep 0.1
done
echo "==> links: every router linked to its four neighbours ($up of 5 ready)"
RUST_LOG=info "$ork" onion-proxy --listen "127.0.0.1:$proxy" --network network.txt --entry r1 --hops 5 2>op.log &
pids+=($!)
for _ in $(seq 100); do grep -q "uplink to .* keyed" op.log && break; sleep 0.1; done

echo "==> GET / from 127.0.0.1:$http through the onion proxy (ork connect)"
printf 'GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' |
    "$ork" connect --onion-proxy "127.0.0.1:$proxy" 127.0.0.1 "$http" | sed 's/^/    /'
echo
echo "==> the route it took (onion proxy log)"
grep "connection to" op.log | sed 's/.*connection to/    connection to/'
echo "==> what the HTTP server saw (its log): the request came from the exit router"
sed 's/^/    /' http.log
sleep 1.2
echo "==> status of r1 (ork status)"
"$ork" status r1.status | sed 's/^/    /'
echo "==> tearing down"
