#!/usr/bin/env bash
# header_diff.sh SENT RECEIVED: the HTTP headers a client sent beside those the server received
# (files of `Name: value` lines), one row per header name, then a line saying what the proxy's
# privacy filter removed, replaced and added. Used by scripts/demo.sh.
set -euo pipefail
awk -F': ' '
function row(n, a, b) { printf "%-18s %-36s %s\n", n, substr(a, 1, 36), b }
FNR == NR { k = tolower($1); if (!(k in sent)) order[++n] = k; name[k] = $1; sent[k] = substr($0, length($1) + 3); next }
          { k = tolower($1); if (!(k in sent) && !(k in recv)) order[++n] = k; if (!(k in name)) name[k] = $1; recv[k] = substr($0, length($1) + 3) }
END {
    row("HEADER", "CURL SENT", "THE SERVER RECEIVED")
    for (i = 1; i <= n; i++) {
        k = order[i]
        a = (k in sent) ? sent[k] : "-"
        b = (k in recv) ? recv[k] : "(removed)"
        if (!(k in sent)) { b = b "  (added)"; added = added sep3 name[k]; sep3 = ", " }
        else if (!(k in recv)) { removed = removed sep1 name[k]; sep1 = ", " }
        else if (sent[k] != recv[k]) { b = b "  (replaced)"; replaced = replaced sep2 name[k]; sep2 = ", " }
        row(name[k] ":", a, b)
    }
    printf "the privacy filter removed: %s; replaced: %s; added: %s\n", \
        removed == "" ? "nothing" : removed, replaced == "" ? "nothing" : replaced, added == "" ? "nothing" : added
}' "$1" "$2"
