#!/usr/bin/env bash
# Checks formatting and lint rules with Biome (biome.json): exits non-zero on
# any difference or finding. `bash scripts/lint.sh --fix` formats the files and
# applies the safe fixes instead.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
if [ "${1:-}" = "--fix" ]; then exec node_modules/.bin/biome check --write .; fi
exec node_modules/.bin/biome ci --error-on-warnings .
