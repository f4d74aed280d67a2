# Helpers for bench/vs-restic.sh: logging, page-cache dropping, timing one
# command with /usr/bin/time (wall seconds + peak RSS), ratios and JSON text.
# Sourced, not run; expects the caller to have `set -euo pipefail`.

# Messages go to stderr so stdout carries only the report.
log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'vs-restic: %s\n' "$*" >&2; exit 1; }

# Drops the page cache (and dentries/inodes) when the kernel lets us.
# Sets DROP_CACHES=yes|no the first time; later calls do nothing when it is "no".
DROP_CACHES=""
drop_caches() {
  if [ "$DROP_CACHES" = no ]; then return 0; fi
  sync
  if (echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then DROP_CACHES=yes
  else DROP_CACHES=no; log "cannot write /proc/sys/vm/drop_caches: page cache NOT dropped between phases"; fi
}

# run_timed KEY LOGDIR CMD...: drops caches, runs CMD under /usr/bin/time with its
# output in LOGDIR/KEY.log; on success sets WALL[KEY] (s) and RSS[KEY] (KiB).
# On failure prints the end of the log and exits.
declare -A WALL=() RSS=()
run_timed() {
  local key=$1 logdir=$2; shift 2
  local out="$logdir/$key.log" tf="$logdir/$key.time" rc=0
  drop_caches
  /usr/bin/time -f '%e %M' -o "$tf" "$@" >"$out" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    printf '\nvs-restic: FAILED (exit %s): %s\n--- last lines of %s ---\n' "$rc" "$*" "$out" >&2
    tail -n 30 "$out" >&2 || true
    exit 1
  fi
  local wall rss
  read -r wall rss < <(tail -n 1 "$tf")
  WALL[$key]=$wall
  RSS[$key]=$rss
  log "$key: ${wall} s, peak RSS $((rss / 1024)) MiB"
}

# rm_tree DIR...: removes trees; as non-root first makes read-only directories writable.
rm_tree() {
  if [ "$(id -u)" != 0 ]; then chmod -R u+w "$@" 2>/dev/null || true; fi
  rm -rf "$@"
}

# load_avg: the 1-minute load average (other work on the machine skews timings).
load_avg() { cut -d' ' -f1 /proc/loadavg; }

# ratio A B: A/B with 2 decimals, or "n/a" when either is missing or B is 0.
ratio() {
  local a=${1:-} b=${2:-}
  if [ -z "$a" ] || [ -z "$b" ] || [ "$a" = - ] || [ "$b" = - ]; then echo n/a; return; fi
  awk -v a="$a" -v b="$b" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f\n", a / b }'
}

# verdict RATIO TARGET: PASS when RATIO <= TARGET, MISS otherwise, "-" without a target.
verdict() {
  local r=$1 t=$2
  if [ "$t" = - ]; then echo -; return; fi
  if [ "$r" = n/a ]; then echo n/a; return; fi
  awk -v r="$r" -v t="$t" 'BEGIN { print (r + 0 <= t + 0) ? "PASS" : "MISS" }'
}

# mib KIB_OR_BYTES DIVISOR: a value in MiB with one decimal ("-" passes through).
to_mib() {
  local v=$1 div=$2
  if [ -z "$v" ] || [ "$v" = - ]; then echo -; return; fi
  awk -v v="$v" -v d="$div" 'BEGIN { printf "%.1f\n", v / d }'
}

# json_str S: S as a JSON string literal.
json_str() {
  local s=$1
  s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\n'/\\n}; s=${s//$'\t'/\\t}; s=${s//$'\r'/}
  printf '"%s"' "$s"
}

# json_num V: V, or null when it is empty, "-" or "n/a".
json_num() {
  case ${1:-} in ''|-|n/a) printf null ;; *) printf '%s' "$1" ;; esac
}
