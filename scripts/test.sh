#!/usr/bin/env bash
# Run every check of the project: install what the tests need (Debian, apt-get), then rustfmt,
# clippy, all test targets, the man pages and the benchmarks' build. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/lib.sh

# What the tests run besides cargo, as COMMAND:DEBIAN-PACKAGE.
TEST_TOOLS=(
    openssl:openssl # tests/cli_keygen_mkonion.rs reads the keys with openssl
    groff:groff     # man page check below
    python3:python3 # tests/proc_network.rs serves a page with python3 -m http.server
    curl:curl       # tests/proc_proxies.rs: the HTTP client
    swaks:swaks     # tests/proc_proxies.rs: the SMTP client
    aiosmtpd:python3-aiosmtpd # tests/proc_proxies.rs: the SMTP server (Debian's python3)
    rlogin:rsh-redone-client  # tests/proc_proxies.rs: the rlogin client (as root)
    in.rlogind:rsh-redone-server # tests/proc_proxies.rs: the rlogin daemon (as root)
    script:bsdutils           # gives the rlogin client a terminal
)
ensure_packages "${TEST_TOOLS[@]}"
# Big, and not shipped everywhere: the test that needs it skips loudly without it.
ensure_optional_packages chromium:chromium # tests/proc_proxies.rs: a real browser
ensure_rust

step() {
    echo "==> $*"
    "$@"
}

step cargo fmt --all -- --check
step cargo clippy --all-targets -- -D warnings
step cargo test --all-targets

echo "==> groff -man -ww -z man/*.1"
warnings=$(groff -man -ww -z man/*.1 2>&1)
if [ -n "$warnings" ]; then
    echo "$warnings" >&2
    echo "error: man pages have groff warnings" >&2
    exit 1
fi

if compgen -G "benches/*.rs" >/dev/null; then
    step cargo bench --no-run
fi

echo "==> all checks passed"
