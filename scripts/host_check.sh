#!/usr/bin/env bash
# Check that the tests left the host as they found it: no new enabled service, listening TCP
# port, user or trust file (.rhosts of any user, /etc/hosts.equiv).
#   scripts/host_check.sh snapshot FILE   record the host's state in FILE
#   scripts/host_check.sh compare FILE    compare with FILE; list what is new and exit 1 if anything
# Run by scripts/test.sh before and after the tests. Only additions count: a port or service
# that went away is not a change the tests made. On a machine others use at the same time, a
# port they opened meanwhile shows up too; the listing names the process holding it.
set -euo pipefail

state() {
    echo "## listening"
    ss -ltnH | awk '{ print $4 }' | sort -u
    echo "## users"
    getent passwd | cut -d: -f1 | sort -u
    echo "## services"
    if command -v systemctl >/dev/null 2>&1; then
        systemctl list-unit-files --state=enabled --no-legend 2>/dev/null | awk '{ print $1 }' | sort -u
    fi
    echo "## trust"
    local home
    for f in /etc/hosts.equiv /root/.rhosts "$HOME/.rhosts"; do
        if [ -e "$f" ]; then echo "$f"; fi
    done
    getent passwd | cut -d: -f6 | sort -u | while read -r home; do
        if [ -n "$home" ] && [ -e "$home/.rhosts" ]; then echo "$home/.rhosts"; fi
    done
}

# section NAME FILE: the lines of section NAME.
section() { awk -v s="## $1" '/^## / { on = ($0 == s); next } on' "$2"; }

case ${1:-} in
snapshot)
    state >"$2"
    ;;
compare)
    now=$(mktemp)
    trap 'rm -f "$now"' EXIT
    state >"$now"
    bad=0
    for s in listening users services trust; do
        new=$(comm -13 <(section "$s" "$2" | sort -u) <(section "$s" "$now" | sort -u))
        [ -n "$new" ] || continue
        bad=1
        echo "HOST CHANGED: new $s since the tests started:" >&2
        while read -r item; do
            case $s in
            listening) echo "  $item  $(ss -ltnpH "sport = :${item##*:}" | grep -o 'users:.*' | head -n 1)" >&2 ;;
            *) echo "  $item" >&2 ;;
            esac
        done <<<"$new"
    done
    if [ "$bad" = 1 ]; then
        echo "error: the tests must leave the host as they found it (see above)" >&2
        exit 1
    fi
    echo "==> host unchanged: no new listening port, user, enabled service or trust file"
    ;;
*)
    echo "usage: scripts/host_check.sh snapshot|compare FILE" >&2
    exit 2
    ;;
esac
