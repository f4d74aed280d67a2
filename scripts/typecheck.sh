#!/usr/bin/env bash
# Type-checks the sources with tsc (no emit; Node runs the .ts files directly).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
node_bin=$(bash "$root/scripts/bootstrap.sh")
exec "$node_bin" "$root/node_modules/typescript/bin/tsc" -p "$root/tsconfig.json" --noEmit
