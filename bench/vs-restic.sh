#!/usr/bin/env bash
# Benchmarks Safehold against restic (and borg) on one dataset: first backup,
# unchanged re-backup, backup after changing 1% of the files, full restore and
# check with a full data read — wall time and peak RSS of each command, plus
# repository size — and prints a table with Safehold/restic ratios and targets.
# Also verifies Safehold's restore against the dataset. See bench/README.md.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bench/vs-restic.sh [DATASET] [options]

  --dataset DIR   directory to back up (default: /usr/share; it is copied first)
  --quick         use /usr/share/doc instead (fast smoke run)
  --work DIR      work directory (default: mktemp -d under /tmp); must be empty or absent
  --keep          keep the work directory (repositories, logs, dataset copy)
  --no-borg       compare with restic only
  --json FILE     also write the results as JSON to FILE
  -h, --help      this help
EOF
}

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
# shellcheck source=bench/lib-bench.sh
source "$ROOT/bench/lib-bench.sh"

SOURCE="" QUICK=0 WORK="" KEEP=0 BORG=1 JSON_OUT=""
while [ $# -gt 0 ]; do
  case $1 in
    --dataset) [ $# -ge 2 ] || die "--dataset needs a directory"; SOURCE=$2; shift 2 ;;
    --work) [ $# -ge 2 ] || die "--work needs a directory"; WORK=$2; shift 2 ;;
    --json) [ $# -ge 2 ] || die "--json needs a file"; JSON_OUT=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --keep) KEEP=1; shift ;;
    --no-borg) BORG=0; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) usage >&2; printf "vs-restic: unknown option: %s\n" "$1" >&2; exit 2 ;;
    *) [ -z "$SOURCE" ] || die "only one dataset directory"; SOURCE=$1; shift ;;
  esac
done
if [ -z "$SOURCE" ]; then
  if [ "$QUICK" = 1 ]; then SOURCE=/usr/share/doc; else SOURCE=/usr/share; fi
fi
[ -d "$SOURCE" ] || die "dataset is not a directory: $SOURCE"
SOURCE=$(cd "$SOURCE" && pwd)
if [ -n "$JSON_OUT" ]; then
  mkdir -p "$(dirname "$JSON_OUT")"
  JSON_OUT="$(cd "$(dirname "$JSON_OUT")" && pwd)/$(basename "$JSON_OUT")"
fi

TOOLS=(safehold restic)
[ "$BORG" = 1 ] && TOOLS+=(borg)

# --- prerequisites: restic, borg, GNU time (installed from Debian when root) ---
missing=()
command -v restic >/dev/null 2>&1 || missing+=(restic)
if [ "$BORG" = 1 ]; then command -v borg >/dev/null 2>&1 || missing+=(borgbackup); fi
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing ${missing[*]} with apt-get"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  else
    die "missing: ${missing[*]}. Install them first, e.g.: sudo apt-get install -y ${missing[*]}"
  fi
fi
[ -x "$ROOT/safehold" ] || die "not found: $ROOT/safehold"

# --- work directory and cleanup ---
CREATED_WORK=0
if [ -z "$WORK" ]; then WORK=$(mktemp -d /tmp/safehold-bench.XXXXXX); CREATED_WORK=1
else
  if [ -e "$WORK" ]; then
    [ -d "$WORK" ] && [ -z "$(ls -A "$WORK")" ] || die "--work must be an empty or absent directory: $WORK"
  else mkdir -p "$WORK"; CREATED_WORK=1; fi
  WORK=$(cd "$WORK" && pwd)
fi
cleanup() {
  local rc=$?
  if [ "$KEEP" = 1 ]; then log "work directory kept: $WORK"
  else
    log "removing the work directory"
    # Only what this script made.
    rm_tree "$WORK"/dataset "$WORK"/repo-* "$WORK"/restore-* "$WORK"/logs "$WORK"/cache-* \
      "$WORK"/borg-base "$WORK"/safehold-data "$WORK"/node-compile-cache
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

# --- environment of each tool, all state inside the work directory ---
unset RESTIC_PASSWORD_FILE RESTIC_PASSWORD_COMMAND RESTIC_COMPRESSION BORG_PASSCOMMAND BORG_PASSPHRASE_FD \
  BORG_REPO SAFEHOLD_PASSWORD_FILE 2>/dev/null || true
PASSWORD="bench-$(date +%s)-password"
export SAFEHOLD_PASSWORD=$PASSWORD SAFEHOLD_REPOSITORY="$WORK/repo-safehold" SAFEHOLD_DATA_DIR="$WORK/safehold-data"
export NODE_COMPILE_CACHE="$WORK/node-compile-cache"
export RESTIC_PASSWORD=$PASSWORD RESTIC_REPOSITORY="$WORK/repo-restic" RESTIC_CACHE_DIR="$WORK/cache-restic"
export BORG_PASSPHRASE=$PASSWORD BORG_BASE_DIR="$WORK/borg-base"
BORG_REPO_DIR="$WORK/repo-borg"
SAFEHOLD="$ROOT/safehold"

# --- dataset: a private copy, so every tool reads the same stable data and the 1% change is ours ---
log "copying $SOURCE to $DATA"
cp -a "$SOURCE" "$DATA"
DATA_BYTES=$(du -sb "$DATA" | cut -f1)
DATA_FILES=$(find "$DATA" -type f | wc -l)
DATA_ENTRIES=$(find "$DATA" | wc -l)
log "dataset: $DATA_FILES files, $DATA_ENTRIES entries, $((DATA_BYTES / 1048576)) MiB"

# Appends a line to every 100th regular file in byte-wise sorted order (the same files every run).
change_one_percent() {
  local -a files=()
  mapfile -d '' -t files < <(find "$DATA" -type f -print0 | LC_ALL=C sort -z)
  local i f mode n=0
  for ((i = 0; i < ${#files[@]}; i += 100)); do
    f=${files[i]}
    if [ -w "$f" ]; then printf 'safehold bench: changed\n' >>"$f"
    else mode=$(stat -c %a "$f"); chmod u+w "$f"; printf 'safehold bench: changed\n' >>"$f"; chmod "$mode" "$f"; fi
    n=$((n + 1))
  done
  CHANGED_FILES=$n
}

# --- versions and machine ---
# Warm NODE_COMPILE_CACHE with every module Safehold loads (CLI and worker threads), as any
# installed copy has after its first use: a throw-away init, backup, restore and check.
warm_safehold() {
  local w="$WORK/warm"
  mkdir -p "$w/src" && printf 'warm\n' >"$w/src/file"
  SAFEHOLD_REPOSITORY="$w/repo" SAFEHOLD_DATA_DIR="$w/data" "$SAFEHOLD" init -q
  SAFEHOLD_REPOSITORY="$w/repo" SAFEHOLD_DATA_DIR="$w/data" "$SAFEHOLD" backup -q "$w/src"
  SAFEHOLD_REPOSITORY="$w/repo" SAFEHOLD_DATA_DIR="$w/data" "$SAFEHOLD" restore -q latest --target "$w/restore"
  SAFEHOLD_REPOSITORY="$w/repo" SAFEHOLD_DATA_DIR="$w/data" "$SAFEHOLD" check -q --read-data
  rm -rf "$w"
}
warm_safehold
V_SAFEHOLD=$("$SAFEHOLD" --version)
V_RESTIC=$(restic version | head -n 1)
V_BORG=-
[ "$BORG" = 1 ] && V_BORG=$(borg --version)
NPROC=$(nproc)
CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM_GIB=$(awk '/^MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
KERNEL=$(uname -r)

# --- one command per tool and phase ---
tool_init() {
  case $1 in
    safehold) "$SAFEHOLD" init -q >"$LOGS/safehold-init.log" 2>&1 ;;
    restic) restic -q init >"$LOGS/restic-init.log" 2>&1 ;;
    borg) borg init --encryption=repokey-blake2 "$BORG_REPO_DIR" >"$LOGS/borg-init.log" 2>&1 ;;
  esac || { tail -n 20 "$LOGS/$1-init.log" >&2; die "$1: init failed"; }
}
tool_backup() { # TOOL N
  case $1 in
    safehold) run_timed "safehold.backup$2" "$LOGS" "$SAFEHOLD" backup -q "$DATA" ;;
    restic) run_timed "restic.backup$2" "$LOGS" restic -q backup "$DATA" ;;
    borg) run_timed "borg.backup$2" "$LOGS" borg create --compression zstd,3 "$BORG_REPO_DIR::bench-$2" "$DATA" ;;
  esac
}
tool_restore() { # TOOL TARGET
  case $1 in
    safehold) run_timed safehold.restore "$LOGS" "$SAFEHOLD" restore -q latest --target "$2" ;;
    restic) run_timed restic.restore "$LOGS" restic -q restore latest --target "$2" ;;
    borg) run_timed borg.restore "$LOGS" env -C "$2" borg extract "$BORG_REPO_DIR::bench-3" ;;
  esac
}
tool_check() {
  case $1 in
    safehold) run_timed safehold.check "$LOGS" "$SAFEHOLD" check -q --read-data ;;
    restic) run_timed restic.check "$LOGS" restic -q check --read-data ;;
    borg) run_timed borg.check "$LOGS" borg check --verify-data "$BORG_REPO_DIR" ;;
  esac
}
repo_dir() { case $1 in safehold) echo "$SAFEHOLD_REPOSITORY" ;; restic) echo "$RESTIC_REPOSITORY" ;; borg) echo "$BORG_REPO_DIR" ;; esac; }

# --- the run: phase by phase, every tool in turn, caches dropped before each command ---
declare -A REPO1=() REPO=()
for t in "${TOOLS[@]}"; do tool_init "$t"; done
RESTIC_REPO_VERSION=$(restic cat config 2>/dev/null | sed -n 's/.*"version": *\([0-9]*\).*/\1/p' | head -n 1)
V_RESTIC="$V_RESTIC, repository v${RESTIC_REPO_VERSION:-?}"
log "phase 1: first backup"
for t in "${TOOLS[@]}"; do tool_backup "$t" 1; REPO1[$t]=$(du -sb "$(repo_dir "$t")" | cut -f1); done
log "phase 2: unchanged re-backup"
for t in "${TOOLS[@]}"; do tool_backup "$t" 2; done
change_one_percent
log "phase 3: backup after changing $CHANGED_FILES files (1%)"
for t in "${TOOLS[@]}"; do tool_backup "$t" 3; REPO[$t]=$(du -sb "$(repo_dir "$t")" | cut -f1); done
log "phase 4: full restore"
for t in "${TOOLS[@]}"; do
  target="$WORK/restore-$t"
  mkdir "$target"
  tool_restore "$t" "$target"
  if [ "$t" = safehold ]; then
    log "verifying Safehold's restore against the dataset"
    [ -d "$target$DATA" ] || die "CORRECTNESS FAILURE: Safehold restored nothing at $target$DATA"
    if ! diff -r --no-dereference -q "$DATA" "$target$DATA" >"$LOGS/safehold.restore.diff" 2>&1; then
      printf '\n*** CORRECTNESS FAILURE: the tree Safehold restored differs from the dataset ***\n' >&2
      head -n 40 "$LOGS/safehold.restore.diff" >&2
      exit 1
    fi
    log "restored tree is identical to the dataset"
  else
    # A sanity check that the timed command restored the whole tree where expected.
    got=$( { find "$target$DATA" -type f 2>/dev/null || true; } | wc -l)
    [ "$got" = "$DATA_FILES" ] || die "$t restored $got files under $target$DATA, expected $DATA_FILES"
  fi
  rm_tree "$target"
done
log "phase 5: check with full data read"
for t in "${TOOLS[@]}"; do tool_check "$t"; done

# --- results ---
declare -A PEAK=()
PHASES=(backup1 backup2 backup3 restore check)
for t in "${TOOLS[@]}"; do
  m=0
  for p in "${PHASES[@]}"; do v=${RSS[$t.$p]}; [ "$v" -gt "$m" ] && m=$v; done
  PEAK[$t]=$m
done
val() { # TOOL METRIC -> raw value (s, bytes or KiB), "-" for a tool not run
  local t=$1 m=$2
  if [ "$t" = borg ] && [ "$BORG" = 0 ]; then echo -; return; fi
  case $m in
    repo1) echo "${REPO1[$t]}" ;; repo) echo "${REPO[$t]}" ;; rss) echo "${PEAK[$t]}" ;;
    *) echo "${WALL[$t.$m]}" ;;
  esac
}
shown() { # METRIC RAW -> value as printed
  case $1 in repo1|repo) to_mib "$2" 1048576 ;; rss) to_mib "$2" 1024 ;; *) echo "$2" ;; esac
}
METRICS=(backup1 backup2 backup3 restore check repo1 repo rss)
declare -A LABEL=(
  [backup1]="first backup (s)" [backup2]="unchanged re-backup (s)" [backup3]="backup after 1% change (s)"
  [restore]="full restore (s)" [check]="check --read-data (s)" [repo1]="repo size, 1st backup (MiB)"
  [repo]="repository size (MiB)" [rss]="peak RSS, max of phases (MiB)"
)
declare -A UNIT=([backup1]=s [backup2]=s [backup3]=s [restore]=s [check]=s [repo1]=bytes [repo]=bytes [rss]=KiB)
declare -A TARGET=([backup1]=0.8 [backup2]=0.5 [backup3]=- [restore]=0.8 [check]=- [repo1]=- [repo]=1.0 [rss]=1.0)
ELAPSED=$(( $(date +%s) - T_START ))
LOAD_END=$(load_avg)

{
  echo
  echo "Safehold vs restic$([ "$BORG" = 1 ] && echo " vs borg")"
  echo "machine:  $NPROC cores, $CPU, $MEM_GIB GiB RAM, Linux $KERNEL"
  echo "versions: $V_SAFEHOLD | $V_RESTIC | $V_BORG"
  echo "dataset:  $SOURCE (copied): $DATA_FILES files, $DATA_ENTRIES entries, $(to_mib "$DATA_BYTES" 1048576) MiB; phase 3 changed $CHANGED_FILES files"
  if [ "$DROP_CACHES" = yes ]; then echo "caches:   page cache dropped before every timed command"
  else echo "caches:   page cache NOT dropped (no write access to /proc/sys/vm/drop_caches): warm-cache numbers"; fi
  echo "load:     1-min load average $LOAD_START at start, $LOAD_END at end$(awk -v a="$LOAD_START" -v b="$LOAD_END" -v n="$NPROC" \
    'BEGIN { if (a > n / 2 || b > n / 2) print " (other work was running: timings are noisy)" }')"
  echo
  fmt='%-33s | %9s | %9s | %9s | %9s | %6s | %s\n'
  printf "$fmt" phase safehold restic borg sh/restic target result
  printf "$fmt" | tr ' |' '-+' | sed 's/$/------/'
  for m in "${METRICS[@]}"; do
    s=$(val safehold "$m"); r=$(val restic "$m"); b=$(val borg "$m")
    rt=$(ratio "$s" "$r")
    tg=${TARGET[$m]}
    printf "$fmt" "${LABEL[$m]}" "$(shown "$m" "$s")" "$(shown "$m" "$r")" "$(shown "$m" "$b")" "$rt" \
      "$([ "$tg" = - ] && echo - || echo "<= $tg")" "$(verdict "$rt" "$tg")"
  done
  echo
  echo "peak RSS per phase (MiB):"
  printf '  %-10s' tool; for p in "${PHASES[@]}"; do printf ' %9s' "$p"; done; echo
  for t in "${TOOLS[@]}"; do
    printf '  %-10s' "$t"; for p in "${PHASES[@]}"; do printf ' %9s' "$(to_mib "${RSS[$t.$p]}" 1024)"; done; echo
  done
  echo
  echo "Safehold's restore verified identical to the dataset (diff -r). Total bench time: ${ELAPSED} s."
}

if [ -n "$JSON_OUT" ]; then
  {
    printf '{\n  "date": %s,\n' "$(json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)")"
    printf '  "machine": {"nproc": %s, "cpu": %s, "memGiB": %s, "kernel": %s},\n' \
      "$NPROC" "$(json_str "$CPU")" "$MEM_GIB" "$(json_str "$KERNEL")"
    printf '  "versions": {"safehold": %s, "restic": %s, "borg": %s},\n' \
      "$(json_str "$V_SAFEHOLD")" "$(json_str "$V_RESTIC")" "$([ "$BORG" = 1 ] && json_str "$V_BORG" || echo null)"
    printf '  "dataset": {"source": %s, "quick": %s, "bytes": %s, "files": %s, "entries": %s, "changedFiles": %s},\n' \
      "$(json_str "$SOURCE")" "$([ "$QUICK" = 1 ] && echo true || echo false)" "$DATA_BYTES" "$DATA_FILES" "$DATA_ENTRIES" "$CHANGED_FILES"
    printf '  "cachesDropped": %s,\n  "loadAverage": {"start": %s, "end": %s},\n  "elapsedSeconds": %s,\n  "tools": {\n' \
      "$([ "$DROP_CACHES" = yes ] && echo true || echo false)" "$LOAD_START" "$LOAD_END" "$ELAPSED"
    n=0
    for t in "${TOOLS[@]}"; do
      [ "$n" -gt 0 ] && printf ',\n'; n=$((n + 1))
      printf '    "%s": {"repoBytesAfterFirstBackup": %s, "repoBytes": %s, "peakRssKiB": %s, "phases": {' "$t" "${REPO1[$t]}" "${REPO[$t]}" "${PEAK[$t]}"
      k=0
      for p in "${PHASES[@]}"; do
        [ "$k" -gt 0 ] && printf ', '; k=$((k + 1))
        printf '"%s": {"wallSeconds": %s, "peakRssKiB": %s}' "$p" "${WALL[$t.$p]}" "${RSS[$t.$p]}"
      done
      printf '}}'
    done
    printf '\n  },\n  "comparison": [\n'
    n=0
    for m in "${METRICS[@]}"; do
      [ "$n" -gt 0 ] && printf ',\n'; n=$((n + 1))
      s=$(val safehold "$m"); r=$(val restic "$m"); b=$(val borg "$m"); rt=$(ratio "$s" "$r"); tg=${TARGET[$m]}
      v=$(verdict "$rt" "$tg")
      printf '    {"metric": "%s", "label": %s, "unit": "%s", "safehold": %s, "restic": %s, "borg": %s, "ratio": %s, "target": %s, "result": %s}' \
        "$m" "$(json_str "${LABEL[$m]}")" "${UNIT[$m]}" "$(json_num "$s")" "$(json_num "$r")" "$(json_num "$b")" "$(json_num "$rt")" \
        "$(json_num "$tg")" "$([ "$v" = - ] && echo null || json_str "$v")"
    done
    printf '\n  ]\n}\n'
  } >"$JSON_OUT"
  log "results written to $JSON_OUT"
fi
