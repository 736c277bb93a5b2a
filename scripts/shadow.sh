#!/usr/bin/env bash
# ork networks on the Shadow discrete-event simulator (real `ork` binaries, simulated Internet).
#
#   scripts/shadow.sh gen --out DIR [gen.py options]   write a simulation (scripts/shadow/gen.py --help)
#   scripts/shadow.sh run DIR        run DIR/shadow.yaml; DIR/run.json gets wall time, peak memory,
#                                    per-process CPU time
#   scripts/shadow.sh report DIR     table (DIR/report.md) and plots (DIR/plots/) from the hosts' logs
#   scripts/shadow.sh attack DIR...  the timing adversary on runs made with --pcap
#   scripts/shadow.sh ci [WORKDIR]   the small run CI checks (about 20 routers, 10 clients, 60 s)
#   scripts/shadow.sh timing OUTDIR  the timing-analysis scenarios and their table (timing.sh)
#   scripts/shadow.sh where          print the Shadow binary it would use (unpacking it if needed)
#
# Shadow is, in this order: $SHADOW, `shadow` on PATH, or the prebuilt copy in
# ../shared/tools/shadow unpacked into ${XDG_CACHE_HOME:-~/.cache}/ork-shadow. Shadow runs with
# `nice -n 10`. As root, for simulations of more than 300 hosts, the kernel limits Shadow's docs
# ask for are raised when lower (fs.nr_open, vm.max_map_count, kernel.pid_max,
# kernel.threads-max): the script prints the old values and does NOT restore them.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/scripts/lib.sh"
here=$root/scripts/shadow

find_shadow() {
    if [ -n "${SHADOW:-}" ]; then echo "$SHADOW"; return; fi
    if command -v shadow >/dev/null 2>&1; then command -v shadow; return; fi
    local cache=${XDG_CACHE_HOME:-$HOME/.cache}/ork-shadow tarball
    if [ ! -x "$cache/shadow-inst/bin/shadow" ]; then
        tarball=$(ls "$root"/../shared/tools/shadow/shadow-*.tar.xz /work/shared/tools/shadow/shadow-*.tar.xz \
            2>/dev/null | head -n 1 || true)
        [ -n "$tarball" ] || { echo "shadow.sh: no Shadow: set SHADOW, put shadow on PATH or build it" >&2; return 1; }
        mkdir -p "$cache"
        tar xJf "$tarball" -C "$cache"
    fi
    echo "$cache/shadow-inst/bin/shadow"
}

# Shadow needs GLib at run time.
ensure_glib() {
    ldconfig -p 2>/dev/null | grep -q 'libglib-2.0.so.0' && return 0
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends libglib2.0-0
}

# raise_limit KEY VALUE: set a sysctl to VALUE when it is lower, and say so.
raise_limit() {
    local old
    old=$(sysctl -n "$1" 2>/dev/null) || return 0
    if [ "$old" -lt "$2" ]; then
        sysctl -q -w "$1=$2" && echo "shadow.sh: raised $1 from $old to $2 (not restored; sysctl -w $1=$old to undo)"
    fi
}

limits() {
    local hosts=$1
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true # this process tree only
    [ "$hosts" -gt 300 ] && [ "$(id -u)" -eq 0 ] || return 0
    raise_limit fs.nr_open 10485760
    ulimit -n 10485760 2>/dev/null || true
    raise_limit vm.max_map_count 1073741824
    raise_limit kernel.pid_max 4194304
    raise_limit kernel.threads-max 4194304
}

run() {
    local dir=${1:?run needs DIR}
    dir=$(cd "$dir" && pwd)
    [ -f "$dir/shadow.yaml" ] || { echo "shadow.sh: no $dir/shadow.yaml (shadow.sh gen)" >&2; exit 2; }
    ensure_glib
    local shadow hosts
    shadow=$(find_shadow) || exit 1
    hosts=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["hosts"]))' "$dir/shadow.yaml")
    limits "$hosts"
    rm -rf "$dir/shadow.data"
    echo "==> shadow: $hosts hosts, $dir/shadow.yaml ($("$shadow" --version | head -n 1))"
    local t0 t1 rc=0 pid
    t0=$(date +%s.%N)
    (cd "$dir" && exec nice -n 10 "$shadow" shadow.yaml >"$dir/shadow.log" 2>&1) &
    pid=$!
    python3 "$here/sampler.py" "$pid" "$dir/sampler.json" &
    wait "$pid" || rc=$?
    t1=$(date +%s.%N)
    wait # the sampler
    python3 - "$dir" "$t0" "$t1" "$rc" <<'EOF'
import json, sys
d, t0, t1, rc = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
s = json.load(open(f"{d}/sampler.json"))
plan = json.load(open(f"{d}/plan.json"))
wall = t1 - t0
run = {"wall_s": round(wall, 1), "sim_s": plan["stop"], "sim_per_real": round(plan["stop"] / wall, 3),
       "peak_rss_mb": s["peak_rss_mb"], "shadow_exit": rc, "processes": s["processes"]}
json.dump(run, open(f"{d}/run.json", "w"), indent=1)
print(f"==> shadow exit {rc}: {plan['stop']} simulated s in {wall:.1f} s wall "
      f"({plan['stop'] / wall:.2f}x real time), peak memory {s['peak_rss_mb']} MB")
EOF
    if [ "$rc" -ne 0 ]; then
        echo "shadow.sh: shadow exited $rc; see $dir/shadow.log" >&2
        grep -m 5 -iE 'error|unexpected' "$dir/shadow.log" >&2 || true
    fi
    return "$rc"
}

# report DIR...: with Debian's python3 when it has matplotlib (PNG plots), else SVG plots.
report() {
    local py=python3
    if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then py=/usr/bin/python3; fi
    "$py" "$here/report.py" "$@"
}

main() {
    local cmd=${1:-}
    [ $# -gt 0 ] && shift
    case $cmd in
    gen) python3 "$here/gen.py" "$@" ;;
    run) run "$@" ;;
    report) report "$@" ;;
    attack) python3 "$here/adversary.py" "$@" ;;
    ci) bash "$here/ci.sh" "$@" ;;
    timing) bash "$here/timing.sh" "$@" ;;
    where) find_shadow ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) echo "usage: scripts/shadow.sh gen|run|report|attack|ci|timing|where ... (--help)" >&2; return 2 ;;
    esac
}

# One line, read whole before it runs: editing this file during a long run cannot break it.
main "$@"; exit
