#!/usr/bin/env bash
# Builds the web console (web/ → web/dist) with Vite on Node 24, after a
# type-check of web/ with its own tsconfig. `npm run build` and scripts/test.sh
# call it; `safehold server --listen` serves the result at /.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
node_bin=${SAFEHOLD_NODE:-$(bash scripts/bootstrap.sh)}
"$node_bin" node_modules/typescript/bin/tsc -p web/tsconfig.json
"$node_bin" node_modules/vite/bin/vite.js build web --logLevel warn
