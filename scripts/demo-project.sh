#!/usr/bin/env bash
# The project part of `make demo`: examples/project (PostgreSQL, a migration,
# a Python API, a Node front end, the C example server and a shell service)
# brought up by `portreg up -d` from its portreg.toml; `portreg ps` and
# `portreg list`; a second checkout of the same project side by side; a crash
# and the restart on the same port; `portreg down` for both.
#
#   scripts/demo-project.sh     (scripts/demo.sh runs it after the servers)
#
# It uses $PORTREG_HOME (default .work/demo-registry) and keeps everything it
# makes under .work/demo-project/; whatever it started is stopped on exit and
# on Ctrl-C.
source "$(dirname "$0")/common.sh"

export PORTREG_HOME="${PORTREG_HOME:-$ROOT/.work/demo-registry}"
WORK="$ROOT/.work/demo-project"
FIRST="$ROOT/examples/project"
SECOND="$WORK/feature-x"
# db.sh keeps each checkout's database cluster under this folder.
export PROJECT_DATA="$WORK/data"

step "the project's tools: PostgreSQL, psql, the portreg binary, the C server"
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  need_apt initdb postgresql
fi
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
[ -x "$PG_BIN/postgres" ] || { echo "PostgreSQL is not installed and could not be installed (no $PG_BIN/postgres)" >&2; exit 1; }
need_apt psql postgresql-client
need_apt pg_isready postgresql-client
echo "PostgreSQL: $("$PG_BIN/postgres" --version) in $PG_BIN"
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || { echo "running as root, and there is no 'postgres' user to run the database as" >&2; exit 1; }
  echo "running as root: the db service runs postgres as the 'postgres' user (runuser)"
fi
cargo build -q -p portreg-cli
scripts/demo-c.sh --build-only
# The services find portreg, psql and the C server on PATH.
export PATH="$TARGET_DIR/debug:$TARGET_DIR/c-examples:$PG_BIN:$PATH"
portreg() { "$TARGET_DIR/debug/portreg" "$@"; }

# Stops both checkouts (the supervisors and every service: the database
# too) and forgets the copy; runs on exit, on Ctrl-C and before starting, so
# that an earlier interrupted run leaves nothing behind.
DASH_PID=
cleanup_project() {
  local dir
  [ -z "$DASH_PID" ] || kill "$DASH_PID" 2>/dev/null || true
  for dir in "$SECOND" "$FIRST"; do
    [ -f "$dir/portreg.toml" ] || continue
    (cd "$dir" && portreg down >/dev/null 2>&1) || true
  done
}
trap cleanup_project EXIT
trap "exit 130" INT TERM
cleanup_project
rm -rf "$WORK"
mkdir -p "$WORK"

# ps_field DIR SERVICE FIELD: one field of a service in `portreg ps --json`.
ps_field() {
  (cd "$1" && portreg ps --json) | python3 -c '
import json, sys
s = next(s for s in json.load(sys.stdin)["services"] if s["service"] == sys.argv[1])
print("" if s[sys.argv[2]] is None else s[sys.argv[2]])' "$2" "$3"
}

step "cat examples/project/portreg.toml (no port is written down but the database's preferred one)"
grep -v '^#' "$FIRST/portreg.toml" | sed '/^$/N;/^\n$/D'

step "portreg up -d: every port leased first, then the services in order, each once healthy"
cd "$FIRST"
start=$SECONDS
portreg up -d
echo "(up -d returned after $((SECONDS - start)) s: every service healthy, the migration completed)"

step "portreg ps"
portreg ps

step "the services use the ports they were told: the database through DB_PORT / DATABASE_URL"
python3 - "$(ps_field "$FIRST" api url)" "$(ps_field "$FIRST" web url)" "$(ps_field "$FIRST" status url)" <<'PY'
import json, sys, urllib.request
api, web, status = sys.argv[1:]
def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.read().decode()
code, body = get(api + "/products")
print("api    (Python) %s/products -> %d %s" % (api, code, body))
code, body = get(web + "/")
print("web    (Node)   %s/ -> %d %s" % (web, code, body))
code, body = get(status + "/")
title = body.split("<title>")[1].split("</title>")[0]
print("status (C)      %s/ -> %d, a page titled %r listing the registry" % (status, code, title))
PY
portreg logs migrate -n 2

step "a second checkout of the same project, side by side (a copy on branch feature-x)"
cp -r "$FIRST" "$SECOND"
rm -rf "$SECOND/.data"
git -C "$SECOND" init -q -b feature-x
cd "$SECOND"
portreg up -d
portreg ps
for svc in db api web; do
  a="$(ps_field "$FIRST" "$svc" name):$(ps_field "$FIRST" "$svc" port)"
  b="$(ps_field "$SECOND" "$svc" name):$(ps_field "$SECOND" "$svc" port)"
  echo "$svc: first checkout $a, second checkout $b"
  [ "$a" != "$b" ] || { echo "the two checkouts share $svc's name or port" >&2; exit 1; }
done
curl_web="$(ps_field "$SECOND" web url)"
python3 -c 'import sys, urllib.request; print("second web ->", urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' "$curl_web"

step "portreg list: each project's services together, one checkout after the other"
portreg list

step "the dashboard: each checkout with its services' health and restarts, a restart clicked through its API, and a stable URL per service"
DASH_PORT=$(portreg find)
"$TARGET_DIR/debug/portreg" dashboard --port "$DASH_PORT" > "$WORK/dashboard.log" 2>&1 &
DASH_PID=$!
wait_server "$DASH_PID" "$DASH_PORT" > /dev/null \
  || { cat "$WORK/dashboard.log" >&2; echo "the dashboard did not start serving" >&2; exit 1; }
python3 - "$DASH_PORT" <<'PY'
import http.client, json, sys
port = int(sys.argv[1])
def get(host, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path, headers={"Host": "%s:%d" % (host, port)})
    r = c.getresponse()
    return r.status, r.read().decode()
def post(path, token):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", path, headers={"Host": "127.0.0.1:%d" % port, "X-Portreg-Token": token})
    r = c.getresponse()
    return r.status, json.loads(r.read().decode())
def show():
    for co in json.loads(get("127.0.0.1", "/api/projects")[1]):
        up = sum(1 for s in co["services"] if s["state"] in ("healthy", "running", "exited 0"))
        print("%-16s %-18s supervisor %s, %d/%d up or done" % (co["checkout"], co["label"] or "(first checkout)",
              co["supervisor"], up, len(co["services"])))
        for s in co["services"]:
            print("    %-8s %-30s %-10s restarts %d" % (s["service"], "%s:%s" % (s["name"], s["port"] or "-"),
                  s["state"], s["restarts"]))
show()
page = get("127.0.0.1", "/")[1]
token = page.split('name="portreg-token" content="')[1].split('"')[0]
status, answer = post("/api/projects/feature-x.shop/services/status/restart", token)
st = answer["state"]
print("POST /api/projects/feature-x.shop/services/status/restart -> %d: %s, port %s, restarts %d"
      % (status, st["state"], st["port"], st["restarts"]))
for host in ("api.shop.localhost", "api.feature-x.shop.localhost"):
    code, body = get(host, "/products")
    print("http://%s:%d/products -> %d %s" % (host, port, code, body[:70]))
PY
kill "$DASH_PID"; wait "$DASH_PID" 2>/dev/null || true; DASH_PID=

step "a crash: SIGKILL the first checkout's api (restart = \"on-failure\")"
cd "$FIRST"
port_before=$(ps_field "$FIRST" api port)
victim=$(ps_field "$FIRST" api pid)
echo "kill -9 $victim   (api on port $port_before)"
kill -9 "$victim"
deadline=$((SECONDS + 30))
# web's health check asks the api too, so web is unhealthy until api is back.
until [ "$(ps_field "$FIRST" api restarts)" = 1 ] && [ "$(ps_field "$FIRST" api state)" = healthy ] \
  && [ "$(ps_field "$FIRST" web state)" = healthy ]; do
  [ "$SECONDS" -lt "$deadline" ] || { portreg ps; portreg logs api -n 20; echo "api did not come back healthy" >&2; exit 1; }
  sleep 0.2
done
portreg ps
port_after=$(ps_field "$FIRST" api port)
echo "api is back: pid $(ps_field "$FIRST" api pid), port $port_after (was $port_before), restarts 1"
[ "$port_after" = "$port_before" ] || { echo "api came back on another port" >&2; exit 1; }
portreg logs api | grep -F '[portreg]' | tail -n 3

step "portreg down, in each checkout"
(cd "$SECOND" && portreg down)
(cd "$FIRST" && portreg down)
portreg list --all
pgrep -f "postgres -D $WORK" >/dev/null && { echo "a postgres still runs" >&2; exit 1; }
echo "every service stopped; the ports stay remembered for the next \`portreg up\`"
