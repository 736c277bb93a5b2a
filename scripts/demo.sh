#!/usr/bin/env bash
# The main job: build ork, bring up the five-router testbed (scripts/testbed.sh, firewall
# configuration, loopback only), fetch a page with curl through the HTTP proxy and send a mail
# with swaks through the SMTP proxy, show what each server received (identifying headers
# filtered out) and the route each anonymous connection took, then tear everything down.
# Usage: bash scripts/demo.sh [--config firewall|remote-proxy|customer-isp]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/scripts/lib.sh"

ensure_packages python3:python3 curl:curl swaks:swaks
# The SMTP sink runs on Debian's interpreter: check the module there, not an aiosmtpd command.
ensure_python_modules aiosmtpd:python3-aiosmtpd
ensure_rust
echo "==> cargo build --release  (a first build takes a few minutes)"
(cd "$root" && cargo build --release)

dir=$(mktemp -d)
testbed() { bash "$root/scripts/testbed.sh" "$@" --dir "$dir"; }
# Success removes everything; a failure keeps the testbed's files and logs, and says where.
finish() {
    local status=$?
    testbed down >/dev/null 2>&1 || true
    if [ "$status" -eq 0 ]; then
        rm -rf "$dir"
    else
        echo "demo FAILED (status $status): the testbed's files and logs are kept in $dir (remove it when done)" >&2
    fi
}
trap finish EXIT
testbed up "$@"
# shellcheck source=/dev/null
. "$dir/testbed.env"

echo
echo "==> curl -x http://$http_proxy http://$web/hello  (with a cookie, a referer and its own User-Agent)"
echo "    the server answers with the request headers it received; beside them, those curl sent:"
curl -s -S -v --max-time 20 -x "http://$http_proxy" -H "Cookie: session=alice-secret" \
    -H "Referer: http://alice.example/private" -A "AliceBrowser/1.0" "http://$web/hello" \
    -o "$dir/page.txt" 2>"$dir/curl.log" || { cat "$dir/curl.log"; exit 1; }
sed -n 's/^> \([A-Za-z0-9-]*: .*\)/\1/p' "$dir/curl.log" | tr -d '\r' >"$dir/sent.txt"
grep -v '^BODY:' "$dir/page.txt" >"$dir/received.txt" || true
bash "$root/scripts/header_diff.sh" "$dir/sent.txt" "$dir/received.txt" | sed 's/^/    /'

echo
echo "==> swaks --server $smtp_proxy --to 'bob%${smtp_sink%:*}@proxy.testbed'  (from alice@home.example)"
swaks --server "$smtp_proxy" --from alice@home.example --to "bob%${smtp_sink%:*}@proxy.testbed" \
    --header "Subject: lunch" --header "X-Mailer: AliceMail 2.0" \
    --body "Meet me at noon. -- sent through five onion routers" >"$dir/swaks.log" 2>&1 ||
    { cat "$dir/swaks.log"; exit 1; }
grep -E '^<-  (250|354)' "$dir/swaks.log" | sed 's/^/    /'
for _ in $(seq 50); do compgen -G "$dir/mail/new/*" >/dev/null && break; sleep 0.1; done
echo "    the message as the SMTP server stored it:"
sed 's/^/    | /' "$dir"/mail/new/*

echo
echo "==> the routes the anonymous connections took (onion proxy log)"
grep "connection to" "$dir/logs/onion-proxy.log" | sed 's/.*connection to/    connection to/'
sleep 1.2
echo "==> ork status $dir/r1.status  (what an operator sees; no connection maps)"
"${CARGO_TARGET_DIR:-$root/target}/release/ork" status "$dir/r1.status" | sed 's/^/    /'
echo
echo "==> tearing down"
