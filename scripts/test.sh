#!/usr/bin/env bash
# Run every check of the project: install what the tests need (Debian, apt-get), then rustfmt,
# clippy, all test targets, the man pages and the benchmarks' build. Exits non-zero on any failure,
# and also when the host has a new enabled service, listening port, user or trust file at the end
# (scripts/host_check.sh): the tests must leave the host as they found it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/lib.sh

host_before=$(mktemp)
bash scripts/host_check.sh snapshot "$host_before"
check_host() {
    local status=$?
    bash scripts/host_check.sh compare "$host_before" || status=1
    rm -f "$host_before"
    exit "$status"
}
trap check_host EXIT

# What the tests run besides cargo, as COMMAND:DEBIAN-PACKAGE.
TEST_TOOLS=(
    openssl:openssl # tests/cli_keygen_mkonion.rs reads the keys with openssl
    groff:groff     # man page check below
    python3:python3 # tests/proc_network.rs serves a page with python3 -m http.server
    curl:curl       # tests/proc_proxies.rs: the HTTP client
    swaks:swaks     # tests/proc_proxies.rs: the SMTP client
    rlogin:rsh-redone-client  # tests/proc_proxies.rs: the rlogin client (as root)
    script:bsdutils           # gives the rlogin client a terminal
    ip:iproute2               # tests/testbed.rs: the network-namespace testbed (as root)
    nft:nftables              # testbed.sh --delay without sch_netem: an NFQUEUE rule by nft,
    iptables:iptables         # or by iptables where nft has no `queue` (CONFIG_NFT_QUEUE unset)
    ping:iputils-ping         # tests/testbed.rs: the round trip the --delay makes (as root)
    tshark:tshark             # tests/proc_capture.rs, proc_reply_capture.rs: packet captures (as root)
    torsocks:torsocks         # tests/proc_socks.rs: torsocks through ork socks-proxy
    sshd:openssh-server       # tests/proc_socks.rs: a private sshd on a loopback port
    ssh:openssh-client        # tests/proc_socks.rs: ssh through the SOCKS proxy and ork connect
    nc.openbsd:netcat-openbsd # tests/proc_socks.rs: nc -X 5 as ssh's ProxyCommand
)
ensure_packages "${TEST_TOOLS[@]}"
# tests/proc_proxies.rs: the SMTP server, run by Debian's /usr/bin/python3 (checked there, not on PATH)
ensure_python_modules aiosmtpd:python3-aiosmtpd
# tests/proc_proxies.rs runs the real rlogin daemon (as root) in a network namespace of its own.
# Installing rsh-redone-server would pull in openbsd-inetd and enable password-less rlogin on the
# host, so the package is only unpacked, into target/test-tools.
rlogind_root=${CARGO_TARGET_DIR:-target}/test-tools/rsh-redone-server
if [ ! -x "$rlogind_root/usr/sbin/in.rlogind" ]; then
    echo "==> unpacking rsh-redone-server into $rlogind_root (not installing it)"
    mkdir -p "$rlogind_root"
    (cd "$rlogind_root/.." && apt-get download rsh-redone-server >/dev/null 2>&1 ||
        { as_root apt-get update -qq && apt-get download rsh-redone-server; })
    dpkg-deb -x "$rlogind_root"/../rsh-redone-server_*.deb "$rlogind_root"
fi
ORK_RLOGIND_ROOT=$(cd "$rlogind_root" && pwd)
export ORK_RLOGIND_ROOT
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
# The small Shadow simulation and the timing adversary's control (docs/shadow.md).
step scripts/shadow.sh ci

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

# Tests that could not run here in full said so in their (captured) output; say it again here.
if [ "$(id -u)" -ne 0 ]; then
    echo "NOTE: not root: the real rlogin/in.rlogind test, the packet-capture checks and the network-namespace testbed SKIPPED"
fi
command -v chromium >/dev/null 2>&1 || echo "NOTE: no chromium: the browser test SKIPPED"
# The netns testbed delays with netem when the kernel has it, else through NFQUEUE (testbed.sh).
if [ "$(id -u)" -eq 0 ] && ! (ip netns add ork-netem-probe && ip -n ork-netem-probe link add v0 type veth peer name v1 &&
    ip netns exec ork-netem-probe tc qdisc add dev v0 root netem delay 1ms) 2>/dev/null; then
    if ip netns exec ork-netem-probe nft 'add table inet p; add chain inet p o { type filter hook output priority 0; };
        add rule inet p o queue num 0 bypass' 2>/dev/null ||
        ip netns exec ork-netem-probe iptables -A OUTPUT -j NFQUEUE --queue-num 0 --queue-bypass 2>/dev/null; then
        echo "NOTE: this kernel has no netem qdisc: the 20-router netns testbed delayed its packets 20 ms through" \
            "NFQUEUE (scripts/servers/nfq_delay.py) instead"
    else
        echo "NOTE: this kernel has no netem qdisc and no NFQUEUE: the 20-router netns testbed ran without its 20 ms delay"
    fi
fi
ip netns del ork-netem-probe 2>/dev/null || true
echo "==> all checks passed"
