#!/usr/bin/env bash
# Benchmarks Safehold against restic on PostgreSQL dumps (issue 5): a pgbench
# database backed up the way each tool would back it up daily (Safehold: a plan
# with a postgres target; restic: pg_dump piped into `restic backup --stdin`;
# and a plain `pg_dump -Fc` file), first and second backup around a pgbench
# run, restore into a new database; then dumps whose rows changed in clustered
# runs, stored with each chunking. Prints figures, ratios and PASS/FAIL of the
# two requirements. See bench/README.md, section "Databases".
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bench/databases.sh [options]

  --scale N        pgbench scale of the test database (default 20, ~300 MB)
  --duration S     seconds of pgbench load between the two backups (default 30)
  --clients N      pgbench clients (default 4)
  --repeat N       back up each clustered-change pair into N new repositories (default 3):
                   chunk boundaries depend on each repository's secret seed
  --host H         PostgreSQL server (default 127.0.0.1; PGPASSWORD is used if set)
  --port P         (default 5432)
  --user U         (default postgres; needs CREATEDB and to read every table)
  --sweep "K/K/K ..."  also store the clustered-change dumps with these chunk
                   sizes (min/avg/max KiB, e.g. "16/64/512 64/256/2048")
  --work DIR       work directory (default: mktemp -d under /tmp); empty or absent
  --keep           keep the work directory (repositories, dumps, logs)
  -h, --help       this help
EOF
}

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
# shellcheck source=bench/lib-bench.sh
source "$ROOT/bench/lib-bench.sh"
die() { printf 'databases: %s\n' "$*" >&2; exit 1; }

SCALE=20 DURATION=30 CLIENTS=4 REPEAT=3 WORK="" KEEP=0 SWEEP=""
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
while [ $# -gt 0 ]; do
  case $1 in
    --scale|--duration|--clients|--repeat|--host|--port|--user|--sweep|--work)
      [ $# -ge 2 ] || die "$1 needs a value"
      case $1 in
        --scale) SCALE=$2 ;; --duration) DURATION=$2 ;; --clients) CLIENTS=$2 ;; --repeat) REPEAT=$2 ;; --host) PGHOST=$2 ;;
        --port) PGPORT=$2 ;; --user) PGUSER=$2 ;; --sweep) SWEEP=$2 ;; --work) WORK=$2 ;;
      esac
      shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; printf "databases: unknown argument: %s\n" "$1" >&2; exit 2 ;;
  esac
done
for v in "$SCALE" "$DURATION" "$CLIENTS" "$REPEAT"; do [[ $v =~ ^[1-9][0-9]*$ ]] || die "not a positive whole number: $v"; done
for s in $SWEEP; do [[ $s =~ ^[0-9]+/[0-9]+/[0-9]+$ ]] || die "--sweep: MIN/AVG/MAX in KiB, not $s"; done

# --- prerequisites ---
missing=()
for c in restic pg_dump pg_restore pgbench psql createdb dropdb pg_isready; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
[ -x /usr/bin/time ] || missing+=(/usr/bin/time)
[ ${#missing[@]} -eq 0 ] || die "missing: ${missing[*]} (Debian: apt-get install -y restic postgresql-client time)"
[ -x "$ROOT/safehold" ] || die "not found: $ROOT/safehold"
NODE=""
for cand in "$ROOT"/.tools/node_modules/node-linux-*/bin/node; do [ -x "$cand" ] && NODE=$cand; done
[ -n "$NODE" ] || die "Node 24 not found under $ROOT/.tools (run scripts/bootstrap.sh)"
pg_isready -q -t 5 || die "no PostgreSQL server answering at $PGHOST:$PGPORT"
HAVE_OPENSSL=0
command -v openssl >/dev/null 2>&1 && HAVE_OPENSSL=1

# --- work directory, database names, cleanup ---
CREATED_WORK=0
if [ -z "$WORK" ]; then WORK=$(mktemp -d /tmp/safehold-dbbench.XXXXXX); CREATED_WORK=1
else
  if [ -e "$WORK" ]; then
    [ -d "$WORK" ] && [ -z "$(ls -A "$WORK")" ] || die "--work must be an empty or absent directory: $WORK"
  else mkdir -p "$WORK"; CREATED_WORK=1; fi
  WORK=$(cd "$WORK" && pwd)
fi
DB="shbench_$$_$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
DBS=("$DB" "${DB}_r_safehold" "${DB}_r_restic" "${DB}_r_pgdump")
cleanup() {
  local rc=$?
  for d in "${DBS[@]}"; do dropdb --if-exists --force "$d" >/dev/null 2>&1 || true; done
  if [ "$KEEP" = 1 ]; then log "work directory kept: $WORK"
  else
    rm -rf "$WORK"/repo-* "$WORK"/restore-* "$WORK"/logs "$WORK"/cache-* "$WORK"/safehold-data \
      "$WORK"/node-compile-cache "$WORK"/*.dump "$WORK"/*.data "$WORK"/safehold.yaml "$WORK"/warm
    [ "$CREATED_WORK" = 1 ] && rmdir "$WORK" 2>/dev/null || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
LOGS="$WORK/logs"
mkdir -p "$LOGS"
T_START=$(date +%s)
LOAD_START=$(load_avg)

# --- environment: all state in the work directory ---
unset RESTIC_PASSWORD_FILE RESTIC_PASSWORD_COMMAND RESTIC_COMPRESSION SAFEHOLD_PASSWORD_FILE 2>/dev/null || true
PASSWORD="bench-$(date +%s)-password"
export SAFEHOLD_PASSWORD=$PASSWORD SAFEHOLD_DATA_DIR="$WORK/safehold-data" NODE_COMPILE_CACHE="$WORK/node-compile-cache"
export RESTIC_PASSWORD=$PASSWORD RESTIC_CACHE_DIR="$WORK/cache-restic"
SAFEHOLD="$ROOT/safehold"
HELPER=("$NODE" --disable-warning=ExperimentalWarning "$ROOT/bench/db-clustered.ts")

# timed KEY CMD...: like run_timed, but stdout goes to LOGS/KEY.out and stderr to LOGS/KEY.log.
timed() {
  local key=$1; shift
  local tf="$LOGS/$key.time" rc=0
  drop_caches
  /usr/bin/time -f '%e %M' -o "$tf" "$@" >"$LOGS/$key.out" 2>"$LOGS/$key.log" || rc=$?
  if [ "$rc" -ne 0 ]; then
    printf '\ndatabases: FAILED (exit %s): %s\n--- last lines of %s ---\n' "$rc" "$*" "$LOGS/$key.log" >&2
    tail -n 30 "$LOGS/$key.log" "$LOGS/$key.out" >&2 || true
    exit 1
  fi
  read -r "WALL[$key]" "RSS[$key]" < <(tail -n 1 "$tf")
  log "$key: ${WALL[$key]} s, peak RSS $((RSS[$key] / 1024)) MiB"
}
size_of() { du -sb "$1" | cut -f1; }
# jfield FILE EXPR: evaluates EXPR on `j`, the last JSON document of FILE (a whole document, or the last line that parses).
jfield() {
  "$NODE" -e '
    const t = require("fs").readFileSync(process.argv[1], "utf8"); let j;
    try { j = JSON.parse(t); } catch { for (const l of t.trim().split("\n").reverse()) { try { j = JSON.parse(l); break; } catch {} } }
    const v = eval(process.argv[2]); if (v === undefined) process.exit(1); console.log(v);' "$1" "$2"
}
mib() { awk -v v="$1" 'BEGIN { printf "%.2f\n", v / 1048576 }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.1f\n", 100 * a / b }'; }
psql_q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
# The state of the pgbench tables, to compare a restored database with the source.
fingerprint() {
  psql_q -d "$1" -c "SELECT (SELECT count(*) || ':' || sum(abalance) FROM pgbench_accounts) || '/' ||
    (SELECT count(*) || ':' || coalesce(sum(delta), 0) FROM pgbench_history) || '/' ||
    (SELECT sum(tbalance) FROM pgbench_tellers) || '/' || (SELECT sum(bbalance) FROM pgbench_branches)"
}

# --- versions, machine, warm-up ---
V_SAFEHOLD=$("$SAFEHOLD" --version)
V_RESTIC=$(restic version | head -n 1)
V_PG=$(psql_q -d postgres -c 'SHOW server_version')
NPROC=$(nproc)
CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM_GIB=$(awk '/^MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)

cat >"$WORK/safehold.yaml" <<EOF
# Written by bench/databases.sh: one postgres target (the bench database), one repository.
targets:
  bench-pg:
    kind: postgres
    host: '$PGHOST'
    port: $PGPORT
    user: '$PGUSER'
$( [ -n "${PGPASSWORD:-}" ] && echo "    password: { env: PGPASSWORD }" )
    databases: '$DB'
    exclude: ['_globals']
destinations:
  bench-repo:
    type: repository
    path: '$WORK/repo-safehold'
    password: { env: SAFEHOLD_PASSWORD }
plans:
  bench-db:
    destination: bench-repo
    activities:
      - { kind: backup, targets: bench-pg }
EOF
# Compile every module once (CLI, plan runner, driver, helper) as an installed copy has after its first use.
log "warming Safehold's compile cache"
mkdir -p "$WORK/warm"
SAFEHOLD_REPOSITORY="$WORK/repo-safehold" "$SAFEHOLD" init -q
SAFEHOLD_REPOSITORY="$WORK/warm/repo" "$SAFEHOLD" init -q
echo warm | SAFEHOLD_REPOSITORY="$WORK/warm/repo" "$SAFEHOLD" backup -q --stdin --stdin-filename warm
SAFEHOLD_REPOSITORY="$WORK/warm/repo" "$SAFEHOLD" restore -q latest --target "$WORK/warm/restore"
echo warm | "${HELPER[@]}" --repo "$WORK/warm/repo" - >/dev/null
"$SAFEHOLD" plan run bench-db --config "$WORK/safehold.yaml" --local -q >/dev/null 2>&1 || true  # no database yet: nothing to do
rm -rf "$WORK/warm"

# --- the database ---
log "creating $DB: pgbench scale $SCALE"
createdb "$DB"
timed pgbench.init pgbench -i -q -s "$SCALE" "$DB"
DB_BYTES=$(psql_q -d "$DB" -c "SELECT pg_database_size('$DB')")
restic -q init -r "$WORK/repo-restic" >"$LOGS/restic-init.log" 2>&1 || die "restic init failed"
SAFEHOLD_REPOSITORY="$WORK/repo-stream" "$SAFEHOLD" init -q
RESTIC_REPO_VERSION=$(restic -r "$WORK/repo-restic" cat config 2>/dev/null | sed -n 's/.*"version": *\([0-9]*\).*/\1/p' | head -n 1)

# backup_all N: the three ways of backing up the database, one after the other.
declare -A STORED=() ADDED=() SNAP=() PGD_SIZE=()
backup_all() {
  local n=$1 s0
  timed "pgdump.backup$n" pg_dump -Fc -f "$WORK/pgdump-$n.dump" "$DB"
  PGD_SIZE[$n]=$(size_of "$WORK/pgdump-$n.dump")

  s0=$(size_of "$WORK/repo-safehold")
  timed "safehold.backup$n" "$SAFEHOLD" plan run bench-db --config "$WORK/safehold.yaml" --local --json
  [ "$(jfield "$LOGS/safehold.backup$n.out" 'j.tasks.length + ":" + j.tasks[0].status')" = 1:succeeded ] \
    || die "the plan run did not back up the database: $(cat "$LOGS/safehold.backup$n.out")"
  STORED[safehold.$n]=$(( $(size_of "$WORK/repo-safehold") - s0 ))
  ADDED[safehold.$n]=$(jfield "$LOGS/safehold.backup$n.out" 'j.tasks[0].bytes')
  SNAP[$n]=$(jfield "$LOGS/safehold.backup$n.out" 'j.tasks[0].snapshots[0]')

  s0=$(size_of "$WORK/repo-stream")
  timed "stream.backup$n" bash -c 'set -o pipefail; pg_dump -Fc --compress=0 "$1" | "${@:3}" --repo "$2" -' _ \
    "$DB" "$WORK/repo-stream" "${HELPER[@]}"
  STORED[stream.$n]=$(( $(size_of "$WORK/repo-stream") - s0 ))
  ADDED[stream.$n]=$(jfield "$LOGS/stream.backup$n.out" 'j.bytesAdded')

  s0=$(size_of "$WORK/repo-restic")
  timed "restic.backup$n" bash -c 'set -o pipefail; pg_dump -Fc --compress=0 "$1" | restic -q -r "$2" backup --json --stdin --stdin-filename db.dump' _ \
    "$DB" "$WORK/repo-restic"
  STORED[restic.$n]=$(( $(size_of "$WORK/repo-restic") - s0 ))
  ADDED[restic.$n]=$(jfield "$LOGS/restic.backup$n.out" 'j.data_added')
  # The same dump once more, kept (untimed), to store it again below in new repositories.
  pg_dump -Fc --compress=0 -f "$WORK/pgdump-$([ "$n" = 1 ] && echo a || echo b).data" "$DB"
}

log "phase 1: first backup"
backup_all 1
log "phase 2: pgbench load, $DURATION s with $CLIENTS clients"
timed pgbench.run pgbench -n -T "$DURATION" -c "$CLIENTS" -j "$CLIENTS" "$DB"
TPS=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$LOGS/pgbench.run.out" | tail -n 1)
TXNS=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$LOGS/pgbench.run.out")
log "phase 3: second backup"
backup_all 2
SOURCE_FP=$(fingerprint "$DB")

log "phase 4: restore into new databases"
# restore_db KEY NEWDB DUMP: pg_restore as Safehold's driver runs it (new database from template0, one transaction).
restore_db() {
  createdb -T template0 "$2"
  timed "$1" pg_restore --single-transaction --exit-on-error -d "$2" "$3"
  local fp; fp=$(fingerprint "$2")
  [ "$fp" = "$SOURCE_FP" ] || die "CORRECTNESS FAILURE: $2 restored from $3 differs from the source ($fp, want $SOURCE_FP)"
}
timed safehold.extract env SAFEHOLD_REPOSITORY="$WORK/repo-safehold" "$SAFEHOLD" restore -q "${SNAP[2]}" --target "$WORK/restore-safehold"
restore_db safehold.pgrestore "${DB}_r_safehold" "$WORK/restore-safehold/bench-pg-$DB.bak"
timed restic.extract restic -q -r "$WORK/repo-restic" restore latest --target "$WORK/restore-restic"
restore_db restic.pgrestore "${DB}_r_restic" "$WORK/restore-restic/db.dump"
restore_db pgdump.pgrestore "${DB}_r_pgdump" "$WORK/pgdump-2.dump"
log "the three restored databases equal the source ($SOURCE_FP)"
rm -rf "$WORK"/restore-* "$WORK"/pgdump-?.dump
for d in "${DBS[@]:1}"; do dropdb --if-exists "$d"; done

# --- clustered changes: rows changed in contiguous runs of ~100 KiB ---
log "phase 5: the dumps again, and clustered changes, into new repositories"
psql_q -d "$DB" -c 'COPY (SELECT * FROM pgbench_accounts ORDER BY aid) TO STDOUT' >"$WORK/rows-a.data"
ROWS=$(wc -l <"$WORK/rows-a.data")
# change FROM TO: 2 % of the rows, in runs of contiguous rows ~100 KiB long spread evenly; a changed row gets a new abalance.
change() {
  awk -F'\t' -v OFS='\t' -v n="$ROWS" -v size="$(size_of "$1")" -v pct=2 -v run=102400 '
    BEGIN { L = int(run / (size / n) + 0.5); R = int(n * pct / 100 / L + 0.5)
            for (k = 0; k < R; k++) start[k] = int((k + 0.5) * n / R) - int(L / 2); k = 0; nxt = start[0] }
    { if (k < R && NR >= nxt && NR < nxt + L) { $3 = $3 + 1000 + NR % 9000; changed++; if (NR == nxt + L - 1) { k++; nxt = (k < R) ? start[k] : 0 } } print }
    END { printf "%d %d %d\n", R, L, changed > "/dev/stderr" }' "$1" >"$2" 2>"$LOGS/change.out"
  read -r RUNS RUN_ROWS CHANGED_ROWS <"$LOGS/change.out"
}
change "$WORK/rows-a.data" "$WORK/rows-b.data"
DATASETS=(pgdump rows)
if [ "$HAVE_OPENSSL" = 1 ]; then
  # The same rows with pgbench's blank 84-character filler replaced by pseudo-random base64 (fixed seed):
  # rows with real content instead of a run of spaces.
  { openssl enc -aes-128-ctr -nosalt -pass pass:safehold-bench -md sha256 -in /dev/zero 2>/dev/null || true; } \
    | head -c $((ROWS * 63)) | base64 -w 84 >"$WORK/filler.data"
  cut -f1-3 "$WORK/rows-a.data" | paste - "$WORK/filler.data" >"$WORK/random-a.data"
  rm -f "$WORK/filler.data"
  change "$WORK/random-a.data" "$WORK/random-b.data"
  DATASETS+=(random)
else log "openssl not found: the random-filler variant is left out"; fi
read -ra SWEEP_SIZES <<<"$SWEEP"
CHUNKINGS=(restic default dump "${SWEEP_SIZES[@]}")
declare -A CL_FULL=() CL_SECOND=() CL_AVG=() CL_SIZE=()
# pair DATASET CHUNKING REP: backs up DATASET-a then DATASET-b into a new repository (so a new chunker
# seed or polynomial each time); records the growth of the repository by each.
pair() {
  local ds=$1 ch=$2 r=$3 repo="$WORK/repo-cl" s0 i=0 f key k="$1.$2.$3"
  local -a grow=()
  rm -rf "$repo"
  if [ "$ch" = restic ]; then restic -q init -r "$repo" >/dev/null 2>&1 || die "restic init failed"
  else SAFEHOLD_REPOSITORY="$repo" "$SAFEHOLD" init -q; fi
  for f in a b; do
    i=$((i + 1)); key="cl.$ds.${ch//\//-}.$r.$i"; s0=$(size_of "$repo")
    case $ch in
      restic) timed "$key" bash -c 'restic -q -r "$1" backup --json --stdin --stdin-filename bench.data <"$2"' _ "$repo" "$WORK/$ds-$f.data" ;;
      default) timed "$key" bash -c 'SAFEHOLD_REPOSITORY="$1" "$3" backup -q --stdin --stdin-filename bench.data <"$2"' _ "$repo" "$WORK/$ds-$f.data" "$SAFEHOLD" ;;
      *) timed "$key" "${HELPER[@]}" --repo "$repo" --chunker "$ch" "$WORK/$ds-$f.data"
         # Average chunk size of the full copy (its content ids; a group holds many).
         [ "$i" = 1 ] && CL_AVG[$k]=$(jfield "$LOGS/$key.out" '(j.bytesRead / j.chunks / 1024).toFixed(0)') ;;
    esac
    grow+=($(( $(size_of "$repo") - s0 )))
  done
  CL_FULL[$k]=${grow[0]}
  CL_SECOND[$k]=${grow[1]}
  rm -rf "$repo"
}
for ds in "${DATASETS[@]}"; do
  CL_SIZE[$ds]=$(size_of "$WORK/$ds-a.data")
  for ((r = 1; r <= REPEAT; r++)); do for ch in "${CHUNKINGS[@]}"; do pair "$ds" "$ch" "$r"; done; done
done
# cl_stat DATASET CHUNKING WHAT: median over the repetitions of full | second (MiB), pct (second as % of full), avg (KiB);
# cl_range: "min-max" of pct.
cl_values() {
  local r v
  for ((r = 1; r <= REPEAT; r++)); do
    local k="$1.$2.$r"
    case $3 in
      full) v=$(mib "${CL_FULL[$k]}") ;; second) v=$(mib "${CL_SECOND[$k]}") ;;
      pct) v=$(pct "${CL_SECOND[$k]}" "${CL_FULL[$k]}") ;; avg) v=${CL_AVG[$k]:--} ;;
    esac
    echo "$v"
  done
}
cl_stat() {
  cl_values "$@" | sort -g | awk '$1 == "-" { dash = 1 } { v[NR] = $1 } END { if (dash) { print "-"; exit } if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
cl_range() { cl_values "$1" "$2" pct | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }'; }

# --- report ---
ELAPSED=$(( $(date +%s) - T_START ))
LOAD_END=$(load_avg)
verdict2() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 <= b + 0) ? "PASS" : "FAIL" }'; }
{
  echo
  echo "Safehold vs restic on PostgreSQL dumps"
  echo "machine:  $NPROC cores, $CPU, $MEM_GIB GiB RAM, Linux $(uname -r)"
  echo "versions: $V_SAFEHOLD | $V_RESTIC, repository v${RESTIC_REPO_VERSION:-?} | PostgreSQL $V_PG"
  echo "database: pgbench scale $SCALE, $(mib "$DB_BYTES") MiB on disk; between the backups pgbench -T $DURATION -c $CLIENTS: $TXNS transactions ($TPS tps)"
  if [ "$DROP_CACHES" = yes ]; then echo "caches:   page cache dropped before every timed command"
  else echo "caches:   page cache NOT dropped (no write access to /proc/sys/vm/drop_caches): warm-cache numbers"; fi
  echo "load:     1-min load average $LOAD_START at start, $LOAD_END at end$(awk -v a="$LOAD_START" -v b="$LOAD_END" -v n="$NPROC" \
    'BEGIN { if (a > n / 2 || b > n / 2) print " (other work was running: timings are noisy)" }')"
  echo
  echo "Daily dumps. stored = growth of the repository (du -sb), or the file's size for pg_dump -Fc."
  echo "  Safehold plan   = 'safehold plan run' of a postgres target: table digest + pg_dump --format=custom --compress=0, DUMP_CHUNKER"
  echo "  Safehold stream = pg_dump --format=custom --compress=0 | bench/db-clustered.ts - (same chunking, no digest)"
  echo "  restic          = pg_dump --format=custom --compress=0 | restic backup --stdin"
  fmt='%-34s | %12s | %13s | %15s | %10s | %9s\n'
  printf "$fmt" "" "pg_dump -Fc" "Safehold plan" "Safehold stream" restic "plan/restic"
  printf "$fmt" | tr ' |' '-+'
  row() { printf "$fmt" "$1" "$2" "$3" "$4" "$5" "$([ "$6" = - ] && echo - || ratio "$6" "$7")"; }
  row "first backup (s)" "${WALL[pgdump.backup1]}" "${WALL[safehold.backup1]}" "${WALL[stream.backup1]}" "${WALL[restic.backup1]}" "${WALL[safehold.backup1]}" "${WALL[restic.backup1]}"
  row "first backup, stored (MiB)" "$(mib "${PGD_SIZE[1]}")" "$(mib "${STORED[safehold.1]}")" "$(mib "${STORED[stream.1]}")" "$(mib "${STORED[restic.1]}")" "${STORED[safehold.1]}" "${STORED[restic.1]}"
  row "second backup (s)" "${WALL[pgdump.backup2]}" "${WALL[safehold.backup2]}" "${WALL[stream.backup2]}" "${WALL[restic.backup2]}" "${WALL[safehold.backup2]}" "${WALL[restic.backup2]}"
  row "second backup, stored (MiB)" "$(mib "${PGD_SIZE[2]}")" "$(mib "${STORED[safehold.2]}")" "$(mib "${STORED[stream.2]}")" "$(mib "${STORED[restic.2]}")" "${STORED[safehold.2]}" "${STORED[restic.2]}"
  row "second as % of first" "$(pct "${PGD_SIZE[2]}" "${PGD_SIZE[1]}")" "$(pct "${STORED[safehold.2]}" "${STORED[safehold.1]}")" \
    "$(pct "${STORED[stream.2]}" "${STORED[stream.1]}")" "$(pct "${STORED[restic.2]}" "${STORED[restic.1]}")" - -
  row "peak RSS, second backup (MiB)" "$(to_mib "${RSS[pgdump.backup2]}" 1024)" "$(to_mib "${RSS[safehold.backup2]}" 1024)" \
    "$(to_mib "${RSS[stream.backup2]}" 1024)" "$(to_mib "${RSS[restic.backup2]}" 1024)" "${RSS[safehold.backup2]}" "${RSS[restic.backup2]}"
  row "restore: dump out of the repo (s)" - "${WALL[safehold.extract]}" - "${WALL[restic.extract]}" "${WALL[safehold.extract]}" "${WALL[restic.extract]}"
  row "restore: pg_restore (s)" "${WALL[pgdump.pgrestore]}" "${WALL[safehold.pgrestore]}" - "${WALL[restic.pgrestore]}" "${WALL[safehold.pgrestore]}" "${WALL[restic.pgrestore]}"
  TS=$(awk -v a="${WALL[safehold.extract]}" -v b="${WALL[safehold.pgrestore]}" 'BEGIN { printf "%.2f", a + b }')
  TR=$(awk -v a="${WALL[restic.extract]}" -v b="${WALL[restic.pgrestore]}" 'BEGIN { printf "%.2f", a + b }')
  row "restore total (s)" "${WALL[pgdump.pgrestore]}" "$TS" - "$TR" "$TS" "$TR"
  echo
  echo "  bytes added as the tools report them (MiB): Safehold tasks[].bytes (stored, compressed) $(mib "${ADDED[safehold.1]}") then $(mib "${ADDED[safehold.2]}");"
  echo "  restic data_added (0.14: before compression) $(mib "${ADDED[restic.1]}") then $(mib "${ADDED[restic.2]}")"
  echo "  restore = 'safehold restore SNAPSHOT --target DIR' / 'restic restore latest --target DIR', then pg_restore --single-transaction"
  echo "  into a new database (the three restored databases checked equal to the source)"
  echo
  echo "REQUIREMENT second dump, stored by Safehold <= by restic (this run, plan vs restic): $(mib "${STORED[safehold.2]}") MiB vs $(mib "${STORED[restic.2]}") MiB: $(verdict2 "${STORED[safehold.2]}" "${STORED[restic.2]}")"
  echo "REQUIREMENT same, median of $REPEAT new repositories each (dataset pgdump below, dump chunking vs restic): $(cl_stat pgdump dump second) MiB vs $(cl_stat pgdump restic second) MiB: $(verdict2 "$(cl_stat pgdump dump second)" "$(cl_stat pgdump restic second)")"
  echo
  echo "Each dataset's two versions stored by each chunking into a new repository (repeated $REPEAT times: chunk"
  echo "boundaries depend on each repository's secret seed / polynomial; medians, and the range of %):"
  echo "  pgdump = the two pg_dump --format=custom --compress=0 dumps of the daily runs above (pgbench's updates: scattered rows)"
  echo "  rows   = pgbench_accounts as COPY text ($ROWS rows) and a copy with $CHANGED_ROWS rows ($(pct "$CHANGED_ROWS" "$ROWS") %) changed in $RUNS runs"
  echo "           of $RUN_ROWS contiguous rows (~100 KiB each) spread evenly: clustered changes. pgbench's filler column is 84"
  echo "           spaces: ~100x compressible and of low entropy for any chunker (chunks come out larger than nominal)"
  [ "$HAVE_OPENSSL" = 1 ] && echo "  random = the same two versions with the filler replaced by pseudo-random base64 (rows with real content)"
  echo "  chunking: restic = its own (512K/1M/8M); default = safehold backup --stdin (repository chunker, 512K/1M/8M);"
  echo "            dump = DUMP_CHUNKER, DUMP_COMPRESSION and DUMP_GROUP_BYTES (see src/plans/task/task-backup.ts: what plans use for database dumps)$([ -n "$SWEEP" ] && echo "; K/K/K = other sizes (KiB)")"
  cfmt='%-7s | %-14s | %10s | %15s | %17s | %14s | %11s | %s\n'
  printf "$cfmt" dataset chunking "data (MiB)" "full copy (MiB)" "second adds (MiB)" "% of full copy" "range of %" "avg chunk (KiB)"
  printf "$cfmt" | tr ' |' '-+'
  for ds in "${DATASETS[@]}"; do
    for ch in "${CHUNKINGS[@]}"; do
      printf "$cfmt" "$ds" "$ch" "$(mib "${CL_SIZE[$ds]}")" "$(cl_stat "$ds" "$ch" full)" "$(cl_stat "$ds" "$ch" second)" \
        "$(cl_stat "$ds" "$ch" pct)" "$(cl_range "$ds" "$ch")" "$(cl_stat "$ds" "$ch" avg)"
    done
  done
  echo
  for ds in "${DATASETS[@]:1}"; do
    p=$(cl_stat "$ds" dump pct)
    echo "REQUIREMENT clustered ($ds), Safehold's dump chunking adds <= 15 % of a full copy: $p % (range $(cl_range "$ds" dump); restic $(cl_stat "$ds" restic pct) %): $(verdict2 "$p" 15)"
  done
  echo
  echo "Total bench time: ${ELAPSED} s."
}
