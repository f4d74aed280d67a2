#!/usr/bin/env bash
# Stops the demo's PostgreSQL servers created by setup.sh under DIR (fast
# shutdown, then immediate) and removes DIR.
#   examples/dr/teardown.sh DIR
set -euo pipefail
DIR=${1:?usage: teardown.sh DIR}
[ -f "$DIR/ports.env" ] || { printf 'teardown: %s was not made by setup.sh (no ports.env)\n' "$DIR" >&2; exit 1; }
# shellcheck disable=SC1091
. "$DIR/ports.env"
AS=()
[ "$(id -u)" != 0 ] || AS=(runuser -u postgres --)
for d in "$SITE1_DATA" "$SITE2_DATA" "$SITE3_DATA"; do
  [ -f "$d/postmaster.pid" ] || continue
  "${AS[@]}" "$PG_BIN/pg_ctl" -D "$d" -m fast -w -t 20 stop >/dev/null 2>&1 ||
    "${AS[@]}" "$PG_BIN/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1 || true
done
rm -rf "$DIR"
echo "removed $DIR"
