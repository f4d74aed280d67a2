#!/usr/bin/env bash
# npm run quickstart: sets up (Node 24, npm dependencies), then runs Safehold's
# main job on the embedded default: a local repository and the SQLite catalog.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
node_bin=$(bash "$root/scripts/bootstrap.sh")
exec "$node_bin" --disable-warning=ExperimentalWarning "$root/scripts/quickstart.ts" "$@"
