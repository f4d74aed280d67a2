#!/usr/bin/env bash
# Copies a primary's whole database server into an EMPTY data directory with
# pg_basebackup (the return-to-two-sites runbook's copy to the new site). As
# root it runs as the directory's owner. A directory that already holds data
# is left alone (the runbook then rewinds it with pg.rewind-or-rebuild).
# The last line of output is JSON: {"copied":true} or {"copied":false}.
#   examples/dr/base-backup.sh DATA_DIR PRIMARY_URL
set -euo pipefail
DATA=${1:?usage: base-backup.sh DATA_DIR PRIMARY_URL}
PRIMARY=${2:?usage: base-backup.sh DATA_DIR PRIMARY_URL}
BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
if [ -n "$(ls -A "$DATA" 2>/dev/null)" ]; then
  echo "$DATA already holds a data directory: not copied"
  echo '{"copied":false}'
  exit 0
fi
mkdir -p "$DATA"
chmod 700 "$DATA"
AS=()
if [ "$(id -u)" = 0 ]; then AS=(runuser -u "$(stat -c %U "$DATA")" --); fi
"${AS[@]}" "$BIN/pg_basebackup" -D "$DATA" -d "$PRIMARY" -X stream -c fast --no-password
echo "copied the primary's data into $DATA"
echo '{"copied":true}'
