#!/usr/bin/env bash
# Builds the web console (web/ → web/dist) with Vite on Node 24, after a
# type-check of web/ with its own tsconfig. `npm run build` and scripts/test.sh
# call it; `safehold server --listen` serves the result at /. It ends with one
# line naming the output directory, its file count and total size.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
node_bin=${SAFEHOLD_NODE:-$(bash scripts/bootstrap.sh)}
"$node_bin" node_modules/typescript/bin/tsc -p web/tsconfig.json
"$node_bin" node_modules/vite/bin/vite.js build web --logLevel warn
# One line saying what was built: where, how many files, how big.
out=web/dist
files=$(find "$out" -type f | wc -l)
bytes=$(find "$out" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
size=$(awk -v b="$bytes" 'BEGIN { split("B KiB MiB GiB", u); i = 1; while (b >= 1024 && i < 4) { b /= 1024; i++ } printf (i == 1 ? "%d %s" : "%.1f %s"), b, u[i] }')
echo "built the console: $out ($files files, $size)"
