#!/bin/sh
# The `db` service: PostgreSQL from the system's packages, its cluster made by
# initdb on the first start, listening on loopback on the port portreg leased
# ($PORT). The cluster lives in $PROJECT_DATA/<checkout folder>-pg (default:
# .data/ in the project), so two checkouts of the project never share one.
# postgres refuses to run as root: as root it runs as the `postgres` user.
set -eu
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -n "$bin" ] && [ -x "$bin/postgres" ] || {
  echo "db: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
root=$(pwd)
data="${PROJECT_DATA:-$root/.data}/$(basename "$root")-pg"
as_user=""
if [ "$(id -u)" -eq 0 ]; then
  as_user="runuser -u postgres --"
fi
if [ ! -f "$data/PG_VERSION" ]; then
  rm -rf "$data"
  mkdir -p "$data"
  [ -z "$as_user" ] || chown postgres: "$data"
  echo "db: initdb $data"
  $as_user "$bin/initdb" -D "$data" -U shop --auth=trust -E UTF8 --no-instructions >/dev/null
fi
echo "db: postgres on 127.0.0.1:$PORT (data: $data)"
exec $as_user "$bin/postgres" -D "$data" -p "$PORT" -k /tmp -c listen_addresses=127.0.0.1
