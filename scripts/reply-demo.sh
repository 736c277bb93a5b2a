#!/usr/bin/env bash
# An SSH session to a server reachable only through a reply onion (docs/reply-onions.md), on
# loopback: five routers, the owner's onion proxy with a reply endpoint in front of a private
# sshd, the user's onion proxy, and ssh with `ork connect --reply-onion` as its ProxyCommand.
# Everything lives in a temporary directory and is stopped and removed on exit.
# Usage: scripts/reply-demo.sh [PATH-TO-ORK]   (needs ssh, sshd and ssh-keygen)
set -euo pipefail
ORK=${1:-$(dirname "$0")/../target/debug/ork}
ORK=$(realpath "$ORK")
DIR=$(mktemp -d)
PIDS=()
MADE_RUN_SSHD=
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -n "$MADE_RUN_SSHD" ] && rmdir /run/sshd 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT
cd "$DIR"
BASE=$((30000 + RANDOM % 2000 * 10))
for i in 1 2 3 4 5; do "$ORK" keygen --out r$i >/dev/null; done
{
    for i in 1 2 3 4 5; do echo "router r$i 127.0.0.1:$((BASE + i)) r$i.pub"; done
    for a in 1 2 3 4 5; do for b in 1 2 3 4 5; do [ $a -lt $b ] && echo "link r$a r$b"; done; done
} > network.txt
for i in 1 2 3 4 5; do
    for j in 1 2 3 4 5; do [ $i -ne $j ] && echo "127.0.0.1:$((BASE + j)) r$j.pub"; done > r$i.neighbors
done
# hn connects to the owner's endpoint on loopback: the exit policy must allow it (proto=reply).
printf 'accept 127.0.0.1:%s proto=reply\nreject *:*\n' $((BASE + 70)) > exit-policy.txt
for i in 1 2 3 4 5; do
    RUST_LOG=info,ork::router::reply_leg=debug,ork::router::splice=debug "$ORK" router \
        --listen 127.0.0.1:$((BASE + i)) --key r$i.key --neighbors r$i.neighbors \
        --exit-policy exit-policy.txt --state-dir state-r$i > r$i.log 2>&1 &
    PIDS+=($!)
done
# The private sshd (host and client keys made here).
ssh-keygen -q -t ed25519 -N '' -f host_key
ssh-keygen -q -t ed25519 -N '' -f client_key
cp client_key.pub authorized_keys
SSHD_PORT=$((BASE + 22))
printf 'Port %s\nListenAddress 127.0.0.1\nHostKey %s/host_key\nAuthorizedKeysFile %s/authorized_keys\nPidFile none\nUsePAM no\nStrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n' \
    "$SSHD_PORT" "$DIR" "$DIR" > sshd_config
if [ ! -d /run/sshd ]; then mkdir /run/sshd && MADE_RUN_SSHD=1; fi
/usr/sbin/sshd -D -e -f sshd_config 2> sshd.log &
PIDS+=($!)
sleep 3
# The owner: a batch of reply onions towards its endpoint, and its onion proxy serving sshd.
mkdir -m 700 owner
"$ORK" mkonion reply --network network.txt --hops 3 --endpoint 127.0.0.1:$((BASE + 70)) \
    --count 3 --state-dir owner -o replies.txt
RUST_LOG=info "$ORK" onion-proxy --listen 127.0.0.1:$((BASE + 51)) --network network.txt --entry r2 \
    --reply-listen 127.0.0.1:$((BASE + 70)) --reply-to 127.0.0.1:$SSHD_PORT --state-dir owner > owner.log 2>&1 &
PIDS+=($!)
# The user: its own onion proxy (routes at debug level), then ssh through one reply line.
RUST_LOG=info,ork::client::onion_proxy=debug "$ORK" onion-proxy --listen 127.0.0.1:$((BASE + 50)) \
    --network network.txt --entry r1 --hops 3 > user.log 2>&1 &
PIDS+=($!)
sleep 3
echo "== ssh through a reply onion"
ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=known_hosts \
    -i client_key -o ProxyCommand="$ORK connect --onion-proxy 127.0.0.1:$((BASE + 50)) --reply-onion $DIR/replies.txt" \
    "$(id -un)@hidden-service" 'echo "hello from the hidden sshd: $(id -un) on $(hostname), pid $$"'
sleep 1
echo "== the user's file (one line used)"; cut -c1-40 replies.txt
echo "== user's onion proxy (debug): its own route to the exit that splices"; grep -h "connection to\|opened" user.log
echo "== routers: the splice and hn's leg (debug)"; grep -H "protocol 6\|reply leg" r?.log
echo "== owner's onion proxy"; grep -h "reply" owner.log
echo "== owner's records"; for f in owner/*.reply; do echo "$f: $(tr '\n' ' ' < "$f" | cut -c1-90)"; done
