#!/usr/bin/env bash
# Creates the three PostgreSQL 15 servers of the disaster-recovery demo under
# DIR: Site 1 (primary), Site 2 (streaming standby of Site 1) and Site 3 (a
# spare site: an empty data directory, filled later by return-to-two-sites).
# Each listens on 127.0.0.1 on its own port (base, base+1, base+2) and on a
# socket in DIR/run; trust authentication (a demo on one machine, loopback
# only). As root the servers run as the `postgres` OS user.
#   examples/dr/setup.sh DIR [--base-port 55431] [--sync] [--no-app-db]
# --sync makes Site 1 wait for Site 2 at each commit (synchronous replication).
# Then creates the application database (reporting) at Site 1 with its schema.
# Also makes DIR/exports-site2 and DIR/exports-site3 (the example's export destinations).
# Writes DIR/ports.env (SITE1_PORT=..., SITEn_DATA=...) and prints the ports.
# examples/dr/teardown.sh DIR stops them and removes DIR.
set -euo pipefail

usage() { sed -n '2,/^set -e/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

DIR="" BASE=55431 SYNC=0 APPDB=1
while [ $# -gt 0 ]; do
  case $1 in
    --base-port) [ $# -ge 2 ] || die "--base-port needs a value"; BASE=$2; shift 2 ;;
    --sync) SYNC=1; shift ;;
    --no-app-db) APPDB=0; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) usage >&2; die "unknown option: $1" ;;
    *) [ -z "$DIR" ] || die "one directory only"; DIR=$1; shift ;;
  esac
done
[ -n "$DIR" ] || { usage >&2; exit 2; }
[[ $BASE =~ ^[0-9]+$ ]] && [ "$BASE" -ge 1024 ] && [ "$BASE" -le 65533 ] || die "--base-port: expected 1024..65533"

HERE=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
for p in initdb pg_ctl pg_basebackup; do [ -x "$BIN/$p" ] || die "missing $BIN/$p (Debian: apt-get install postgresql-15)"; done
command -v psql >/dev/null || die "missing psql (Debian: apt-get install postgresql-client-15)"

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
[ ! -e "$DIR/site1" ] || die "$DIR/site1 exists: run teardown.sh $DIR first"

# As root the servers and their programs run as postgres, which must reach DIR.
AS=()
if [ "$(id -u)" = 0 ]; then
  AS=(runuser -u postgres --)
  chmod 755 "$DIR"
fi
mkdir -p "$DIR/run" "$DIR/site1" "$DIR/site2" "$DIR/site3/data" "$DIR/exports-site2" "$DIR/exports-site3"
chmod 700 "$DIR/site3/data"
[ ${#AS[@]} -eq 0 ] || chown -R postgres:postgres "$DIR/run" "$DIR/site1" "$DIR/site2" "$DIR/site3"

P1=$BASE P2=$((BASE + 1)) P3=$((BASE + 2))
for p in $P1 $P2 $P3; do
  if (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null; then
    die "port $p is in use (choose another --base-port)"
  fi
done

# Settings shared by every site (pg_rewind copies configuration files between them); the port is per site.
common_conf() {
  cat <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR/run'
wal_level = replica
wal_log_hints = on
hot_standby = on
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = '512MB'
hot_standby_feedback = on
wal_receiver_status_interval = 1s
wal_retrieve_retry_interval = 1s
# The demo kills processes, never the machine: no need to wait for the disk.
fsync = off
log_line_prefix = '%m [%p] '
CONF
}

# The port goes into postgresql.auto.conf, where the runbooks' pg steps keep it.
set_port() { # DATA PORT
  "${AS[@]}" sh -c "sed -i -e '/^port = /d' '$1/postgresql.auto.conf' && echo 'port = $2' >>'$1/postgresql.auto.conf'"
}

pgctl_start() { # DATA
  "${AS[@]}" "$BIN/pg_ctl" -D "$1" -l "$(dirname "$1")/server.log" -w -t 60 start >/dev/null
}

echo "Site 1: initdb"
"${AS[@]}" "$BIN/initdb" -D "$DIR/site1/data" -U postgres --auth=trust -E UTF8 -N >/dev/null
common_conf >>"$DIR/site1/data/postgresql.conf"
set_port "$DIR/site1/data" "$P1"
pgctl_start "$DIR/site1/data"

echo "Site 2: base backup of Site 1, streaming standby"
"${AS[@]}" "$BIN/pg_basebackup" -h 127.0.0.1 -p "$P1" -U postgres -D "$DIR/site2/data" -X stream -R -c fast
"${AS[@]}" sh -c "echo \"primary_conninfo = 'host=127.0.0.1 port=$P1 user=postgres application_name=site2'\" >>'$DIR/site2/data/postgresql.auto.conf'"
set_port "$DIR/site2/data" "$P2"
pgctl_start "$DIR/site2/data"
if [ "$SYNC" = 1 ]; then
  # Only Site 1 waits for Site 2 (ALTER SYSTEM after the base backup, so Site 2 does not inherit it).
  psql -q -h 127.0.0.1 -p "$P1" -U postgres -c "ALTER SYSTEM SET synchronous_standby_names = 'site2'" -c 'SELECT pg_reload_conf()' postgres >/dev/null
fi

cat >"$DIR/ports.env" <<ENV
SITE1_PORT=$P1
SITE2_PORT=$P2
SITE3_PORT=$P3
SITE1_DATA=$DIR/site1/data
SITE2_DATA=$DIR/site2/data
SITE3_DATA=$DIR/site3/data
PG_BIN=$BIN
ENV

if [ "$APPDB" = 1 ]; then
  echo "Site 1: application database"
  INI=$(mktemp)
  printf '[app]\nhost = 127.0.0.1\nport = %s\ndatabase = reporting\nlog = /dev/null\n' "$P1" >"$INI"
  "$HERE/app/appctl.sh" setup-db --config "$INI"
  rm -f "$INI"
fi

# Site 2 must stream before the demo starts.
for _ in $(seq 1 100); do
  st=$(psql -h 127.0.0.1 -p "$P1" -U postgres -At -c "SELECT state FROM pg_stat_replication WHERE application_name = 'site2'" postgres || true)
  [ "$st" = streaming ] && break
  sleep 0.1
done
[ "$st" = streaming ] || die "Site 2 does not stream from Site 1 (see $DIR/site2/server.log)"

cat <<OUT
Site 1 (primary)            127.0.0.1:$P1   data $DIR/site1/data
Site 2 (standby of Site 1)  127.0.0.1:$P2   data $DIR/site2/data
Site 3 (spare, not running) 127.0.0.1:$P3   data $DIR/site3/data
replication: $([ "$SYNC" = 1 ] && echo synchronous || echo asynchronous); ports in $DIR/ports.env
OUT
