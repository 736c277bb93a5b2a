#!/usr/bin/env bash
# The main job for now: build ork, make five router keys, build a five-hop onion and peel it
# hop by hop as the five routers would, printing each layer. Later issues replace this with a
# five-router testbed carrying a real request. Cleans up after itself.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/lib.sh
ensure_rust

echo "==> cargo build --release"
cargo build --release --quiet
ork=${CARGO_TARGET_DIR:-$PWD/target}/release/ork

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "==> five router key pairs (ork keygen)"
hops=()
for i in 1 2 3 4 5; do
    "$ork" keygen --out "$work/r$i"
    hops+=(--hop "127.0.0.1:900$i=$work/r$i.pub")
done

echo
echo "==> a five-hop onion for 127.0.0.1:9001 -> ... -> 127.0.0.1:9005 (ork mkonion build)"
"$ork" mkonion build "${hops[@]}" --expires 5m -o "$work/onion0.bin"

for i in 1 2 3 4 5; do
    echo
    echo "==> router $i (127.0.0.1:900$i) peels its layer (ork mkonion peel --key r$i.key)"
    "$ork" mkonion peel --key "$work/r$i.key" "$work/onion$((i - 1)).bin" -o "$work/onion$i.bin"
done

echo
echo "==> a wrong key is refused (router 2's key on router 1's layer)"
if "$ork" mkonion peel --key "$work/r2.key" "$work/onion0.bin" >/dev/null; then
    # A wrong key yields a random block, which passes the layer checks about once in 2,600.
    echo "(by chance the wrong key's random block looked like a layer; run the demo again)"
fi
echo
echo "==> demo done: the route was recovered layer by layer"
