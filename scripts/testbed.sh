#!/usr/bin/env bash
# A testbed of ork routers, an onion proxy, the three application proxies, an HTTP server and an
# SMTP sink, in one of the paper's three configurations (§2), on loopback or in network
# namespaces. Every process has a pid file and a log under DIR; `down` stops exactly those.
#
#   scripts/testbed.sh up     [--config firewall|remote-proxy|customer-isp] [--dir DIR]
#                             [--netns [--routers N] [--links K] [--delay 20ms]]
#                             [--directory [--interval 10s]]
#   scripts/testbed.sh status [--dir DIR]     each process, and each router's live links
#   scripts/testbed.sh logs   [--dir DIR] [NAME]
#   scripts/testbed.sh down   [--dir DIR]
#   scripts/testbed.sh restart NAME [--dir DIR]   kill -9 one process and start it again
#
# Configurations (where the onion proxy and application proxies run, paper §2):
#   firewall      on the entry router's host (127.0.0.1), the enclave's firewall;
#   remote-proxy  on a separate proxy host (127.0.0.2) that users reach over the network;
#   customer-isp  at the customer (127.0.0.4), reaching the ISP's router through `ork funnel`
#                 (127.0.0.3).
# Loopback mode: routers on 127.0.0.1:9001.. (five unless --routers), full mesh. Netns mode (root):
# each router in its own namespace ork-rI at 10.77.0.I on a bridge in namespace ork-br, the
# proxies and servers in ork-cl (10.77.0.250); each router linked to K random others (a
# connected graph). --delay D holds every packet a router sends for D (one way, per hop):
# `tc netem` on its eth0 when the kernel has sch_netem, else an NFQUEUE rule (nft, or iptables)
# in the router's namespace and scripts/servers/nfq_delay.py there (process delay-rI) holding
# each packet for D. `up` prints which one gives the delay, and a WARNING if neither can.
# --directory: three directory authorities (a1..a3 at 127.0.0.1:9030-9032, or 10.77.0.250 in
# ork-cl) with --interval (default 10s); routers upload descriptors to them and the onion proxy
# takes its network from their majority-signed document (only the file DIR/authorities).
# Only loopback and namespaces this script creates carry traffic.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/scripts/lib.sh"

usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; }
cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in -h | --help | help) usage; exit 0 ;; esac
config=firewall config_given="" netns_given=0 dir=${TMPDIR:-/tmp}/ork-testbed netns=0 routers=5 links=3 delay="" directory=0 interval=10s
while [ $# -gt 0 ]; do
    case $1 in
    --config) config=$2 config_given=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --netns) netns=1 netns_given=1; shift ;;
    --routers) routers=$2; shift 2 ;;
    --links) links=$2; shift 2 ;;
    --delay) delay=$2; shift 2 ;;
    --directory) directory=1; shift ;;
    --interval) interval=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) [[ "$cmd" = logs || "$cmd" = restart ]] && [ -z "${only:-}" ] && { only=$1; shift; continue; }
       echo "testbed: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
case $config in firewall | remote-proxy | customer-isp) ;; *)
    echo "testbed: --config must be firewall, remote-proxy or customer-isp, not '$config'" >&2; exit 2 ;;
esac
ork=${ORK:-${CARGO_TARGET_DIR:-$root/target}/release/ork}
pids=$dir/pids logs=$dir/logs

# --- processes -------------------------------------------------------------------------------

# alive NAME: the pid in NAME's pid file still runs the arguments recorded beside it (after the
# program's name, which wrappers such as pyenv shims may change), so a reused pid is not ours.
alive() {
    local f=$pids/$1.pid pid cmdline
    [ -f "$f" ] || return 1
    pid=$(head -n 1 "$f")
    cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
    [[ "$cmdline" == *" $(sed -n 2p "$f")" ]]
}

# gone PID: the process has exited and released its files (a zombie has; a dying process whose
# command line is already empty may still hold its listening socket).
gone() {
    [ ! -e "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# start NAME NETNS CMD...: run CMD in the background (in namespace NETNS unless "-"), log to
# logs/NAME.log, record its pid and command line. Says so and does nothing if NAME is running.
start() {
    local name=$1 ns=$2 pid want prog
    shift 2
    if alive "$name"; then
        echo "    $name already running (pid $(head -n 1 "$pids/$name.pid"))"
        return 0
    fi
    want=$(printf '%s ' "${@:2}")
    prog=$1
    if [ "$ns" != - ]; then set -- ip netns exec "$ns" "$@"; fi
    RUST_LOG=${RUST_LOG:-info} "$@" >>"$logs/$name.log" 2>&1 </dev/null &
    pid=$!
    printf '%s\n%s\n%s\n%s\n' "$pid" "$want" "$prog" "$ns" >"$pids/$name.pid"
    # `ip netns exec` (and a pyenv shim) exec the command: wait until the pid runs it.
    for _ in $(seq 100); do alive "$name" && break; sleep 0.02; done
    echo "    $name started (pid $pid)"
}

# wait_log NAME PATTERN [COUNT]: until NAME's log has COUNT lines matching PATTERN (20 s).
wait_log() {
    local n
    for _ in $(seq 200); do
        n=$(grep -c -- "$2" "$logs/$1.log" 2>/dev/null || true)
        [ "${n:-0}" -ge "${3:-1}" ] && return 0
        alive "$1" || { echo "testbed: $1 exited; its log:" >&2; tail -n 20 "$logs/$1.log" >&2; return 1; }
        sleep 0.1
    done
    echo "testbed: timed out waiting for '$2' in $logs/$1.log" >&2
    return 1
}

# --- network namespaces ----------------------------------------------------------------------

ns_up() {
    [ "$(id -u)" -eq 0 ] || { echo "testbed: --netns needs root" >&2; exit 1; }
    ensure_packages ip:iproute2 tc:iproute2 nft:nftables iptables:iptables
    : >"$dir/netns.list"
    : >"$dir/delay.list"
    ip netns add ork-br && echo ork-br >>"$dir/netns.list"
    ip -n ork-br link add br0 type bridge
    ip -n ork-br link set br0 up
    local i ns addr
    for i in $(seq "$routers") cl; do
        if [ "$i" = cl ]; then ns=ork-cl addr=10.77.0.250; else ns=ork-r$i addr=10.77.0.$i; fi
        ip netns add "$ns" && echo "$ns" >>"$dir/netns.list"
        ip -n ork-br link add "p-$i" type veth peer name eth0 netns "$ns"
        ip -n ork-br link set "p-$i" master br0 up
        ip -n "$ns" addr add "$addr/24" dev eth0
        ip -n "$ns" link set eth0 up
        ip -n "$ns" link set lo up
        if [ -n "$delay" ] && [ "$i" != cl ]; then echo "$i $(delay_egress "$ns") $delay" >>"$dir/delay.list"; fi
    done
    [ -n "$delay" ] || return 0
    local none rules
    none=$(grep -c ' none ' "$dir/delay.list" || true)
    rules=$(awk '$2 != "netem" { print $2 }' "$dir/delay.list" | sort -u | paste -sd /)
    if [ "$none" -gt 0 ]; then
        echo "WARNING: no netem qdisc (sch_netem) and no NFQUEUE rule (nft, iptables) in $none router" \
            "namespace(s): their links run WITHOUT the $delay delay" >&2
    elif [ -z "$rules" ]; then
        echo "==> delay $delay on every router's egress: netem (tc qdisc)"
    else
        echo "==> delay $delay on every router's egress: nfqueue (this kernel has no sch_netem): an $rules" \
            "NFQUEUE rule and scripts/servers/nfq_delay.py in each router's namespace"
    fi
}

# delay_egress NS: make every packet NS sends out of eth0 wait $delay, and print how: netem (a
# qdisc), nft or iptables (a rule handing each packet to NFQUEUE 0, where a delay-rI process holds
# it; `bypass` lets packets through while none is bound), or none. An nft ruleset is applied
# whole or not at all; the kernel may lack its `queue` (CONFIG_NFT_QUEUE) yet have iptables'
# NFQUEUE target (xt_NFQUEUE), as the Firecracker guests this project is developed on do.
delay_egress() {
    if ip netns exec "$1" tc qdisc add dev eth0 root netem delay "$delay" 2>/dev/null; then
        echo netem
    elif ip netns exec "$1" nft -f - 2>/dev/null <<'EOF'; then
add table inet orkdelay
add chain inet orkdelay out { type filter hook output priority 0; }
add rule inet orkdelay out oifname "eth0" queue num 0 bypass
EOF
        echo nft
    elif ip netns exec "$1" iptables -A OUTPUT -o eth0 -j NFQUEUE --queue-num 0 --queue-bypass 2>/dev/null; then
        echo iptables
    else
        echo none
    fi
}

# Start the nfq_delay.py of every router whose delay is an NFQUEUE rule, and wait until each
# has bound its queue (before the routers start, so their first packet is delayed too).
ns_delays() {
    [ -f "$dir/delay.list" ] || return 0
    local i by d
    while read -r i by d; do
        case $by in nft | iptables) ;; *) continue ;; esac
        start "delay-r$i" "ork-r$i" python3 "$root/scripts/servers/nfq_delay.py" --queue 0 --delay "$d"
    done <"$dir/delay.list"
    while read -r i by d; do
        case $by in nft | iptables) wait_log "delay-r$i" "bound to queue" ;; esac
    done <"$dir/delay.list"
}

ns_down() {
    [ -f "$dir/netns.list" ] || return 0
    local ns
    while read -r ns; do ip netns del "$ns" 2>/dev/null || true; done <"$dir/netns.list"
    rm -f "$dir/netns.list" "$dir/delay.list"
}

# Where router I listens and runs.
rhost() { if [ "$netns" = 1 ]; then echo "10.77.0.$1"; else echo 127.0.0.1; fi; }
rport() { if [ "$netns" = 1 ]; then echo 9001; else echo $((9000 + $1)); fi; }
ns_r() { if [ "$netns" = 1 ]; then echo "ork-r$1"; else echo -; fi; }

# --- files -----------------------------------------------------------------------------------

# Writes the env file that `status`, `down` and the demo read.
plan() {
    if [ "$netns" = 1 ]; then
        h=10.77.0.250 fh=10.77.0.250 ns_c=ork-cl
    else
        ns_c=-
        case $config in
        firewall) h=127.0.0.1 ;;
        remote-proxy) h=127.0.0.2 ;;
        customer-isp) h=127.0.0.4 ;;
        esac
        fh=127.0.0.3
    fi
    servers=$([ "$netns" = 1 ] && echo 10.77.0.250 || echo 127.0.0.1)
    cat >"$dir/testbed.env" <<EOF
config=$config
netns=$netns
routers=$routers
directory=$directory
interval=$interval
proxy_host=$h
http_proxy=$h:8118
smtp_proxy=$h:2525
rlogin_proxy=$h:5513
socks_proxy=$h:1080
onion_proxy=$h:9050
web=$servers:8080
smtp_sink=$servers:2526
ns_client=$ns_c
EOF
}

# Random connected topology on N routers, each with >= K links (full mesh in loopback mode).
topology() {
    if [ "$netns" = 0 ]; then
        local i j
        for i in $(seq "$routers"); do for j in $(seq $((i + 1)) "$routers"); do echo "$i $j"; done; done
        return
    fi
    python3 - "$routers" "$links" <<'EOF'
import random, sys
n, k = int(sys.argv[1]), int(sys.argv[2])
rng = random.SystemRandom()
edges, order = set(), list(range(1, n + 1))
rng.shuffle(order)
for i in range(1, n):  # a random spanning tree keeps the graph connected
    a, b = order[i], rng.choice(order[:i])
    edges.add((min(a, b), max(a, b)))
deg = lambda r: sum(r in e for e in edges)
for r in order:
    while deg(r) < min(k, n - 1):
        o = rng.choice([x for x in order if x != r and (min(r, x), max(r, x)) not in edges])
        edges.add((min(r, o), max(r, o)))
for a, b in sorted(edges):
    print(a, b)
EOF
}

write_files() {
    local i a b
    for i in $(seq "$routers"); do
        [ -f "$dir/r$i.key" ] || "$ork" keygen --out "$dir/r$i" >/dev/null
    done
    [ -f "$dir/funnel.key" ] || "$ork" keygen --out "$dir/funnel" >/dev/null
    topology >"$dir/links.txt"
    : >"$dir/network.txt"
    for i in $(seq "$routers"); do
        echo "router r$i $(rhost "$i"):$(rport "$i") r$i.pub" >>"$dir/network.txt"
        : >"$dir/r$i.neighbors"
    done
    while read -r a b; do
        echo "link r$a r$b" >>"$dir/network.txt"
        echo "$(rhost "$b"):$(rport "$b") $dir/r$b.pub" >>"$dir/r$a.neighbors"
        echo "$(rhost "$a"):$(rport "$a") $dir/r$a.pub" >>"$dir/r$b.neighbors"
    done <"$dir/links.txt"
    # RLOGIN (a privileged source port) only to port 513, and only by an explicit rule.
    printf 'accept 127.0.0.0/8:513 proto=rlogin\naccept 10.77.0.0/24:513 proto=rlogin\naccept 127.0.0.0/8:*\naccept 10.77.0.0/24:*\n' \
        >"$dir/exit-policy.txt"
    if [ "$directory" = 1 ]; then
        : >"$dir/authorities"
        for i in 1 2 3; do
            [ -f "$dir/a$i.key" ] || "$ork" keygen --out "$dir/a$i" >/dev/null
            echo "$(ahost):$((9029 + i)) a$i.pub" >>"$dir/authorities"
        done
    fi
}

ahost() { if [ "$netns" = 1 ]; then echo 10.77.0.250; else echo 127.0.0.1; fi; }

# Start the three authorities; print the router options that upload to them.
start_authorities() {
    local i
    for i in 1 2 3; do
        start "a$i" "$ns_c" "$ork" directory --listen "$(ahost):$((9029 + i))" --key "$dir/a$i.key" \
            --authorities "$dir/authorities" --state-dir "$dir/state-a$i" --interval "$interval"
    done
    for i in 1 2 3; do wait_log "a$i" "directory authority listening"; done
}

# Wait until the authorities' document lists every router.
wait_document() {
    local cmd=("$ork" directory show --directory "$dir/authorities" --json) n
    [ "$ns_c" != - ] && cmd=(ip netns exec "$ns_c" "${cmd[@]}")
    for _ in $(seq 300); do
        n=$("${cmd[@]}" 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["routers"]))' 2>/dev/null || echo 0)
        [ "$n" -ge "$routers" ] && { echo "==> the directory's document lists $n routers"; return 0; }
        sleep 0.5
    done
    echo "testbed: the directory's document does not list $routers routers" >&2
    return 1
}

# --- commands --------------------------------------------------------------------------------

up() {
    mkdir -p "$pids" "$logs" "$dir/mail"
    local fresh=1
    if [ -f "$dir/testbed.env" ] && ls "$pids"/*.pid >/dev/null 2>&1; then
        fresh=0
        # shellcheck source=/dev/null
        . "$dir/testbed.env"
        local wanted=""
        [ -n "$config_given" ] && [ "$config_given" != "$config" ] && wanted="the $config_given configuration"
        [ "$netns_given" = 1 ] && [ "$netns" != 1 ] && wanted="${wanted:+$wanted in }network namespaces"
        if [ -n "$wanted" ]; then
            echo "testbed: the $config configuration is running in $dir$([ "$netns" = 1 ] && echo " (network namespaces)"); it cannot become $wanted." >&2
            echo "testbed: stop it first (scripts/testbed.sh down --dir $dir) or give another --dir" >&2
            exit 1
        fi
        echo "==> testbed in $dir is already set up ($config, netns=$netns); starting what is missing"
    fi
    [ -x "$ork" ] || { echo "testbed: $ork not built (cargo build --release)" >&2; exit 1; }
    ensure_packages python3:python3
    ensure_python_modules aiosmtpd:python3-aiosmtpd # the SMTP sink runs on $PYTHON
    plan
    set -E # the ERR trap fires inside functions too (ns_up, ns_delays, ...), not only in up's body
    trap 'echo "testbed: up failed; stopping what it started" >&2; down' ERR
    if [ "$netns" = 1 ] && [ ! -f "$dir/netns.list" ]; then ns_up; fi
    if [ "$netns" = 1 ]; then ns_delays; fi
    [ "$fresh" = 0 ] || write_files
    echo "==> $routers routers ($config configuration, $([ "$netns" = 1 ] && echo "network namespaces" || echo loopback)), files in $dir"
    local i dirargs=()
    # shellcheck source=/dev/null
    . "$dir/testbed.env"
    if [ "$directory" = 1 ]; then start_authorities; fi
    for i in $(seq "$routers"); do
        [ "$directory" = 1 ] && dirargs=(--directory "$dir/authorities" --name "r$i" --publish-interval 1m --links-from-directory)
        start "r$i" "$(ns_r "$i")" "$ork" router --listen "$(rhost "$i"):$(rport "$i")" --key "$dir/r$i.key" \
            --neighbors "$dir/r$i.neighbors" --exit-policy "$dir/exit-policy.txt" --state-dir "$dir/state-r$i" \
            --status-file "$dir/r$i.status" "${dirargs[@]}"
    done
    for i in $(seq "$routers"); do wait_log "r$i" "link up: router" "$(grep -c . "$dir/r$i.neighbors")"; done
    echo "==> every router has all its links up"
    # shellcheck source=/dev/null
    . "$dir/testbed.env"
    local via=() allow=()
    [ "$netns" = 1 ] && allow=(--allow-from 10.77.0.0/24)
    if [ "$config" = customer-isp ]; then
        start funnel "$ns_c" "$ork" funnel --listen "$fh:9060" --router "$(rhost 1):$(rport 1)" \
            --router-key "$dir/r1.pub" --key "$dir/funnel.key"
        wait_log funnel "uplink to"
        via=(--via "$fh:9060=$dir/funnel.pub")
    fi
    local netargs=(--network "$dir/network.txt")
    if [ "$directory" = 1 ]; then
        wait_document
        netargs=(--directory "$dir/authorities" --state-dir "$dir/state-op")
    fi
    start onion-proxy "$ns_c" "$ork" onion-proxy --listen "$onion_proxy" "${netargs[@]}" \
        --entry r1 --hops "$([ "$routers" -ge 5 ] && echo 5 || echo "$routers")" "${via[@]}" "${allow[@]}"
    wait_log onion-proxy "keyed"
    start http-proxy "$ns_c" "$ork" http-proxy --listen "$http_proxy" --onion-proxy "$onion_proxy" "${allow[@]}"
    start smtp-proxy "$ns_c" "$ork" smtp-proxy --listen "$smtp_proxy" --onion-proxy "$onion_proxy" \
        --hostname proxy.testbed --smtp-port "${smtp_sink##*:}" "${allow[@]}"
    start rlogin-proxy "$ns_c" "$ork" rlogin-proxy --listen "$rlogin_proxy" --onion-proxy "$onion_proxy" "${allow[@]}"
    start socks-proxy "$ns_c" "$ork" socks-proxy --listen "$socks_proxy" --onion-proxy "$onion_proxy" "${allow[@]}"
    start web "$ns_c" python3 "$root/scripts/servers/header_echo.py" "${web##*:}" "${web%:*}"
    start smtp-sink "$ns_c" "$PYTHON" "$root/scripts/servers/smtp_sink.py" "${smtp_sink##*:}" \
        "$dir/mail" "${smtp_sink%:*}"
    wait_log web listening
    wait_log smtp-sink listening
    for i in http-proxy smtp-proxy rlogin-proxy socks-proxy; do wait_log "$i" "listening"; done
    trap - ERR
    echo "==> up: HTTP proxy $http_proxy, SMTP proxy $smtp_proxy, rlogin proxy $rlogin_proxy, SOCKS proxy $socks_proxy"
    echo "    web server $web (echoes the headers it got), SMTP sink $smtp_sink (Maildir $dir/mail)"
    local run=""
    [ "$ns_client" = - ] || run="ip netns exec $ns_client "
    echo "    try: ${run}curl -x http://$http_proxy http://$web/"
    echo "         ${run}swaks --server $smtp_proxy --from me@example.org --to 'you%${smtp_sink%:*}@proxy.testbed'"
}

status() {
    [ -f "$dir/testbed.env" ] || { echo "no testbed in $dir"; return 1; }
    # shellcheck source=/dev/null
    . "$dir/testbed.env"
    echo "testbed in $dir: $config configuration, $routers routers, netns=$netns"
    local f name i bad=0
    for f in "$pids"/*.pid; do
        [ -f "$f" ] || continue
        name=$(basename "$f" .pid)
        if alive "$name"; then
            printf '  %-13s running (pid %s)\n' "$name" "$(head -n 1 "$f")"
        else
            printf '  %-13s NOT RUNNING (see %s)\n' "$name" "$logs/$name.log"
            bad=1
        fi
    done
    for i in $(seq "$routers"); do
        f=$dir/r$i.status
        [ -f "$f" ] || { echo "  r$i: no status file yet (routers write it every second)"; continue; }
        echo "  $(basename "$f" .status):"
        "$ork" status "$f" 2>&1 | sed 's/^/    /' || true
    done
    return $bad
}

# down: SIGTERM every process, wait until each has exited (SIGKILL after 10 s), and return only
# then, so that nothing of the testbed is left when it does.
down() {
    local f name pid left=() stuck=()
    for f in "$pids"/*.pid; do
        [ -f "$f" ] || continue
        name=$(basename "$f" .pid)
        if alive "$name"; then
            pid=$(head -n 1 "$f")
            kill "$pid" 2>/dev/null || true
            left+=("$name:$pid")
        fi
    done
    local entry deadline=$((SECONDS + 10)) killed=0
    while [ "${#left[@]}" -gt 0 ]; do
        stuck=()
        for entry in "${left[@]}"; do
            if gone "${entry#*:}"; then
                echo "    stopped ${entry%%:*} (pid ${entry#*:})"
            else
                stuck+=("$entry")
            fi
        done
        left=("${stuck[@]+"${stuck[@]}"}")
        [ "${#left[@]}" -gt 0 ] || break
        if [ "$SECONDS" -ge "$deadline" ]; then
            [ "$killed" = 0 ] || break
            for entry in "${left[@]}"; do kill -9 "${entry#*:}" 2>/dev/null || true; done
            killed=1 deadline=$((SECONDS + 5))
        fi
        sleep 0.1
    done
    if [ "${#left[@]}" -gt 0 ]; then
        echo "testbed: still running after SIGKILL: ${left[*]}" >&2
        return 1
    fi
    rm -f "$pids"/*.pid
    ns_down
    rm -f "$dir/testbed.env"
    echo "==> down: every process has exited (logs kept in $logs)"
}

# restart NAME: SIGKILL a testbed process and start it again with the same arguments (soak).
restart() {
    local f=$pids/${only:?restart needs a NAME} prog ns
    f=$f.pid
    [ -f "$f" ] || { echo "testbed: no process $only in $dir" >&2; return 1; }
    prog=$(sed -n 3p "$f") ns=$(sed -n 4p "$f")
    local -a args
    read -r -a args <<<"$(sed -n 2p "$f")"
    local pid
    pid=$(head -n 1 "$f")
    if alive "$only"; then
        kill -9 "$pid" 2>/dev/null || true
        for _ in $(seq 100); do gone "$pid" && break; sleep 0.05; done
    fi
    rm -f "$f"
    start "$only" "${ns:--}" "$prog" "${args[@]}"
}

logs() {
    local f
    if [ -n "${only:-}" ] && [ ! -f "$logs/$only.log" ]; then
        local known
        known=$(cd "$logs" 2>/dev/null && ls -- *.log 2>/dev/null | sed 's/\.log$//' | paste -sd ' ') || true
        echo "testbed: no such process '$only' in $dir (${known:+processes: }${known:-no testbed processes there})" >&2
        return 1
    fi
    for f in "$logs"/${only:-*}.log; do
        [ -f "$f" ] || { echo "no logs in $logs"; return 1; }
        echo "===== $(basename "$f" .log) ====="
        tail -n "${LINES_PER_LOG:-20}" "$f"
    done
}

case $cmd in
up) up ;;
down) down ;;
status) status ;;
logs) logs ;;
restart) restart ;;
*) echo "usage: scripts/testbed.sh up|down|status|logs|restart [--config firewall|remote-proxy|customer-isp] [--dir DIR] [--netns ...] (--help)" >&2; exit 2 ;;
esac
