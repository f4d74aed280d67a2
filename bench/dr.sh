#!/usr/bin/env bash
# Disaster-recovery timings on this machine with the shipped demo
# (examples/dr): N unplanned failovers (kill -9 of Site 1's postmaster while
# the demo application writes, then the site-failover runbook) on fresh
# servers each time, and N planned switchovers (the planned-switchover
# runbook, back and forth between Site 1 and Site 2). RTO and RPO come from
# the application's journal (reporting-app.ts measure): RTO from the kill (or
# the start of the switchover) to the first row committed at the new primary,
# RPO the acknowledged rows the new primary does not have. Prints min /
# median / max. See bench/README.md, section "dr.sh".
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: bench/dr.sh [options]

  --failovers N    unplanned failovers (default 10)
  --switchovers N  planned switchovers (default 10)
  --sync           synchronous replication (Site 1 waits for Site 2 at each commit)
  --write-for S    seconds the application writes before each kill (default 2)
  --work DIR       work directory (default: mktemp -d under /tmp); empty or absent
  --keep           keep the work directory (runbook output in logs/)
  --json FILE      also write the numbers as JSON to FILE
  -h, --help       this help
USAGE
}

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
# shellcheck source=bench/lib-bench.sh
source "$ROOT/bench/lib-bench.sh"
die() { printf 'dr: %s\n' "$*" >&2; exit 1; }

FAILOVERS=10 SWITCHOVERS=10 SYNC=0 WRITE_FOR=2 WORK="" KEEP=0 JSON=""
while [ $# -gt 0 ]; do
  case $1 in
    --failovers|--switchovers|--write-for|--work|--json)
      [ $# -ge 2 ] || die "$1 needs a value"
      case $1 in
        --failovers) FAILOVERS=$2 ;; --switchovers) SWITCHOVERS=$2 ;; --write-for) WRITE_FOR=$2 ;;
        --work) WORK=$2 ;; --json) JSON=$2 ;;
      esac
      shift 2 ;;
    --sync) SYNC=1; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
for v in "$FAILOVERS" "$SWITCHOVERS" "$WRITE_FOR"; do [[ $v =~ ^[0-9]+$ ]] || die "not a whole number: $v"; done
[ -x /usr/lib/postgresql/15/bin/pg_rewind ] || die "missing PostgreSQL 15 (Debian: apt-get install postgresql-15)"

DR=$ROOT/examples/dr
if [ -z "$WORK" ]; then WORK=$(mktemp -d /tmp/safehold-bench-dr.XXXXXX); else mkdir -p "$WORK"; fi
[ -z "$(ls -A "$WORK")" ] || die "work directory not empty: $WORK"
chmod 755 "$WORK"
mkdir -p "$WORK/logs"
cleanup() {
  [ -f "$WORK/cfg/app/app.ini" ] && "$DR/app/appctl.sh" stop --config "$WORK/cfg/app/app.ini" >/dev/null 2>&1 || true
  [ -f "$WORK/pg/ports.env" ] && "$DR/teardown.sh" "$WORK/pg" >/dev/null 2>&1 || true
  if [ "$KEEP" = 1 ]; then log "kept $WORK"; else rm_tree "$WORK"; fi
}
trap cleanup EXIT

# A base port with two more free ports after it.
free_base() {
  local b
  for _ in $(seq 1 50); do
    b=$((20000 + RANDOM % 40000))
    if ! (exec 3<>/dev/tcp/127.0.0.1/$b) 2>/dev/null && ! (exec 3<>/dev/tcp/127.0.0.1/$((b + 1))) 2>/dev/null &&
      ! (exec 3<>/dev/tcp/127.0.0.1/$((b + 2))) 2>/dev/null; then echo "$b"; return; fi
  done
  die "no three free ports in a row"
}

# fresh_demo: new servers under $WORK/pg and a configuration copy under $WORK/cfg pointing at them.
fresh_demo() {
  "$DR/app/appctl.sh" stop --config "$WORK/cfg/app/app.ini" >/dev/null 2>&1 || true
  [ -f "$WORK/pg/ports.env" ] && "$DR/teardown.sh" "$WORK/pg" >/dev/null
  rm -rf "$WORK/cfg"
  BASE=$(free_base)
  P1=$BASE P2=$((BASE + 1)) P3=$((BASE + 2))
  local args=("$WORK/pg" --base-port "$BASE")
  [ "$SYNC" = 0 ] || args+=(--sync)
  "$DR/setup.sh" "${args[@]}" >"$WORK/logs/setup.log" 2>&1 || { tail -20 "$WORK/logs/setup.log" >&2; die "setup.sh failed"; }
  mkdir -p "$WORK/cfg/runbooks" "$WORK/cfg/app"
  local sub="s#/tmp/safehold-dr#$WORK/pg#g; s/55431/$P1/g; s/55432/$P2/g; s/55433/$P3/g"
  sed -e "$sub" "$DR/safehold.yaml" >"$WORK/cfg/safehold.yaml"
  for f in "$DR"/runbooks/*.yaml; do sed -e "$sub" "$f" >"$WORK/cfg/runbooks/$(basename "$f")"; done
  sed -e "$sub" "$DR/app/app.ini" >"$WORK/cfg/app/app.ini"
  ln -s "$DR/app/appctl.sh" "$WORK/cfg/app/appctl.sh"
  ln -s "$DR/base-backup.sh" "$WORK/cfg/base-backup.sh"
}

app() { "$DR/app/appctl.sh" "$@" --config "$WORK/cfg/app/app.ini"; }
now_ms() { date +%s%3N; }
url() { echo "postgres://postgres@127.0.0.1:$1/reporting"; }

# runbook LOG NAME ARGS...: runs a runbook with the CLI; on failure prints the end of its output and stops.
runbook() {
  local out=$1; shift
  "$ROOT/safehold" runbook run "$@" --config "$WORK/cfg/safehold.yaml" >"$out" 2>&1 ||
    { tail -30 "$out" >&2; die "runbook $2 failed (see $out)"; }
}

# field JSON KEY: a number field of a one-line JSON object.
field() { sed -E "s/.*\"$2\":(-?[0-9.]+|null).*/\1/" <<<"$1"; }

declare -a FO_RTO=() FO_RPO=() FO_RPO_MS=() SW_RTO=() SW_RPO=()

for i in $(seq 1 "$FAILOVERS"); do
  fresh_demo
  app start >/dev/null
  sleep "$WRITE_FOR"
  kill -9 "$(head -1 "$WORK/pg/site1/data/postmaster.pid")"
  at=$(now_ms)
  runbook "$WORK/logs/failover-$i.log" site-failover --confirm site-failover --var approve=false
  m=$(app measure --at "$at" --old-site site1 --new-site site2 --url "$(url "$P2")")
  FO_RTO+=("$(field "$m" rtoMs)") FO_RPO+=("$(field "$m" rpoRows)") FO_RPO_MS+=("$(field "$m" rpoMs)")
  log "failover $i/$FAILOVERS: RTO ${FO_RTO[-1]} ms, RPO ${FO_RPO[-1]} rows (${FO_RPO_MS[-1]} ms)"
done

if [ "$SWITCHOVERS" -gt 0 ]; then
  fresh_demo
  app start >/dev/null
  from=1
  for i in $(seq 1 "$SWITCHOVERS"); do
    sleep 1
    to=$((3 - from))
    pf=$((BASE + from - 1)) pt=$((BASE + to - 1))
    at=$(now_ms)
    runbook "$WORK/logs/switchover-$i.log" planned-switchover \
      --var "from=$(url "$pf")" --var "to=$(url "$pt")" --var "fromData=$WORK/pg/site$from/data" \
      --var "toData=$WORK/pg/site$to/data" --var "fromPort=$pf" --var "toPort=$pt" --var "toSite=site$to"
    m=$(app measure --at "$at" --old-site "site$from" --new-site "site$to" --url "$(url "$pt")")
    SW_RTO+=("$(field "$m" rtoMs)") SW_RPO+=("$(field "$m" rpoRows)")
    log "switchover $i/$SWITCHOVERS (site$from → site$to): RTO ${SW_RTO[-1]} ms, RPO ${SW_RPO[-1]} rows"
    from=$to
  done
fi

# stats V...: "min median max" of numbers (null counts as missing).
stats() {
  printf '%s\n' "$@" | grep -E '^-?[0-9.]+$' | sort -n | awk '
    { v[NR] = $1 } END { if (NR == 0) { print "- - -"; exit }
      m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print v[1], m, v[NR] }'
}
sec() { awk -v v="$1" 'BEGIN { if (v == "-") print "-"; else printf "%.2f", v / 1000 }'; }

read -r a b c < <(stats "${FO_RTO[@]}")
read -r d e f < <(stats "${FO_RPO[@]}")
read -r g h k < <(stats "${SW_RTO[@]}")
read -r l m2 n < <(stats "${SW_RPO[@]}")
mode=$([ "$SYNC" = 1 ] && echo synchronous || echo asynchronous)
printf '\nDisaster recovery on this machine (%s replication, load %s)\n' "$mode" "$(load_avg)"
printf '%-32s %8s %8s %8s\n' '' min median max
printf '%-32s %8s %8s %8s\n' "failover RTO, s ($FAILOVERS runs)" "$(sec "$a")" "$(sec "$b")" "$(sec "$c")"
printf '%-32s %8s %8s %8s\n' 'failover RPO, rows' "$d" "$e" "$f"
printf '%-32s %8s %8s %8s\n' "switchover RTO, s ($SWITCHOVERS runs)" "$(sec "$g")" "$(sec "$h")" "$(sec "$k")"
printf '%-32s %8s %8s %8s\n' 'switchover RPO, rows' "$l" "$m2" "$n"
rto_ok=$(awk -v m="$b" 'BEGIN { print (m != "-" && m / 1000 < 10) ? "PASS" : "MISS" }')
rpo_ok=$([ "${#SW_RPO[@]}" -gt 0 ] && [ "$n" = 0 ] && echo PASS || echo MISS)
printf 'median failover RTO < 10 s: %s; switchover RPO 0 every time: %s\n' "$rto_ok" "$rpo_ok"

if [ -n "$JSON" ]; then
  arr() { local IFS=,; printf '[%s]' "$*"; }
  printf '{"replication":"%s","failover":{"rtoMs":%s,"rpoRows":%s,"rpoMs":%s},"switchover":{"rtoMs":%s,"rpoRows":%s}}\n' \
    "$mode" "$(arr "${FO_RTO[@]}")" "$(arr "${FO_RPO[@]}")" "$(arr "${FO_RPO_MS[@]}")" "$(arr "${SW_RTO[@]}")" \
    "$(arr "${SW_RPO[@]}")" >"$JSON"
fi
