#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL 15 cluster on 127.0.0.1 and a free port.
# The cluster lives in a temporary directory and is stopped and removed when the
# command ends, whatever its exit code. PG* variables point the command at it.
set -euo pipefail

find_bindir() {
  for dir in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; return 0; fi
  done
  return 1
}

bindir=$(find_bindir || true)
if [ -z "$bindir" ]; then
  echo "PostgreSQL server binaries not found; installing postgresql-15 with apt-get" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
  bindir=$(find_bindir)
fi

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

datadir=$(mktemp -d -t orc-pg.XXXXXX)
chmod 755 "$datadir"
if [ "$(id -u)" = 0 ]; then chown postgres "$datadir"; fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cleanup() {
  as_pg "$bindir/pg_ctl" -D "$datadir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$datadir"
}
trap cleanup EXIT INT TERM

as_pg "$bindir/initdb" -D "$datadir/data" -U postgres --auth=trust -E UTF8 >/dev/null
as_pg "$bindir/pg_ctl" -D "$datadir/data" -l "$datadir/server.log" -w \
  -o "-p $port -k $datadir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null

export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGPASSWORD="" PGDATABASE=postgres
echo "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') running on 127.0.0.1:$port for this run" >&2
status=0
"$@" || status=$?
exit "$status"
