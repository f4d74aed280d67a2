#!/usr/bin/env bash
# Sets up (Node 24, npm dependencies, and as root the Debian packages the tests
# drive: scripts/test-deps.sh), checks formatting and lint rules (Biome),
# type-checks, then runs the whole test suite
# (or the given test files) with node:test.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
node_bin=$(bash scripts/bootstrap.sh)
export PATH="$(dirname "$node_bin"):$PATH"
echo "node $("$node_bin" --version)" >&2
bash scripts/test-deps.sh
SAFEHOLD_NODE="$node_bin" bash scripts/build-console.sh
bash scripts/lint.sh
"$node_bin" node_modules/typescript/bin/tsc -p tsconfig.json --noEmit
if [ "$#" -gt 0 ]; then files=("$@"); else
  mapfile -t files < <(find src test -name '*.test.ts' | sort)
fi
exec "$node_bin" --disable-warning=ExperimentalWarning --test --test-concurrency=2 --test-timeout=600000 "${files[@]}"
