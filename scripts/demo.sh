#!/usr/bin/env bash
# `make demo`: builds everything, then runs real servers in several languages
# that lease their ports from one registry, shows the race the peers lose
# being won, a crash being noticed, and stops everything through portreg;
# then a whole project (examples/project) with `portreg up -d`
# (scripts/demo-project.sh).
source "$(dirname "$0")/common.sh"

export PORTREG_HOME="$ROOT/.work/demo-registry"
# A run stopped by SIGKILL may have left the project's supervisors running:
# stop them while their registry still says where they are.
if [ -x "$TARGET_DIR/debug/portreg" ] && [ -d "$PORTREG_HOME" ]; then
  for dir in "$ROOT/.work/demo-project/feature-x" "$ROOT/examples/project"; do
    [ -f "$dir/portreg.toml" ] && (cd "$dir" && "$TARGET_DIR/debug/portreg" down >/dev/null 2>&1) || true
  done
fi
rm -rf "$PORTREG_HOME"

step "build the portreg binary"
cargo build -q -p portreg-cli
PORTREG="$TARGET_DIR/debug/portreg"
portreg() { "$PORTREG" "$@"; }
echo "registry for this demo: $PORTREG_HOME"

cleanup() {
  # Stop every server the demo started, through portreg itself.
  for name in $(portreg list --json 2>/dev/null | python3 -c 'import json,sys; [print(e["name"]) for e in json.load(sys.stdin) if e["state"]=="active"]'); do
    portreg kill "$name" --timeout 3 >/dev/null 2>&1 || true
  done
  [ -n "${RUN_PID:-}" ] && kill "$RUN_PID" 2>/dev/null || true
}
trap cleanup EXIT
trap "exit 130" INT TERM   # so an interrupted demo still stops its servers

step "servers in C, Python, Node and the shell each lease a port by name"
scripts/demo-c.sh c-daemon
scripts/demo-python.sh flask-demo fastapi-demo
scripts/demo-node.sh node-demo
portreg run shell-web -d "python -m http.server started by portreg run" -- \
  python3 -u -m http.server {port} --bind 127.0.0.1 > "$ROOT/.work/shell-web.log" 2>&1 &
RUN_PID=$!
url="$(wait_server "$RUN_PID" "$ROOT/.work/shell-web.log")" \
  || { cat "$ROOT/.work/shell-web.log" >&2; echo "portreg run shell-web did not start serving" >&2; exit 1; }
echo "shell example \"shell-web\" (portreg run) running at $url"

step "twenty processes ask for a port at the same instant"
gate="$ROOT/.work/demo-gate"; rm -f "$gate"
pids=()
for i in $(seq 1 20); do
  ( while [ ! -e "$gate" ]; do :; done; exec "$PORTREG" lease "burst-$i" --pid $$ ) > "$ROOT/.work/burst-$i" &
  pids+=($!)
done
sleep 0.3; touch "$gate"; wait "${pids[@]}"
ports=$(cat "$ROOT"/.work/burst-* | sort -n)
echo "ports handed out: $(echo $ports)"
echo "distinct: $(echo "$ports" | sort -u | wc -l) of 20"
rm -f "$ROOT"/.work/burst-* "$gate"
for i in $(seq 1 20); do portreg forget "burst-$i" --force >/dev/null; done

step "portreg list"
portreg list

step "every server answers on its leased port"
portreg list --json | python3 -c '
import json, sys, urllib.request
for e in json.load(sys.stdin):
    if e["state"] != "active":
        continue
    url = "http://127.0.0.1:%d/" % e["port"]
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            body = r.read(200).decode("utf-8", "replace").strip().splitlines()[0]
            print("%-14s %s -> %d %s" % (e["name"], url, r.status, body[:60]))
    except Exception as ex:
        print("%-14s %s -> %s" % (e["name"], url, ex))
'

step "the dashboard, and a stable URL through it"
DASH_PORT=$(portreg find)
portreg dashboard --port "$DASH_PORT" > "$ROOT/.work/dashboard.log" 2>&1 &
wait_server $! "$DASH_PORT" > /dev/null \
  || { cat "$ROOT/.work/dashboard.log" >&2; echo "the dashboard did not start serving" >&2; exit 1; }
python3 - "$DASH_PORT" <<'PY'
import http.client, json, sys
port = int(sys.argv[1])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
c.request("GET", "/api/entries", headers={"Host": "127.0.0.1:%d" % port})
entries = json.loads(c.getresponse().read())
print("dashboard at http://127.0.0.1:%d/ lists %d entries: %s" % (port, len(entries), ", ".join(e["name"] for e in entries)))
c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
c.request("GET", "/", headers={"Host": "flask-demo.localhost:%d" % port})
r = c.getresponse()
print("http://flask-demo.localhost:%d/ -> %d %s" % (port, r.status, r.read(80).decode()))
PY

step "starting a second copy says where the first one runs"
scripts/demo-c.sh c-daemon

step "who listens on the C server's port, and the env for other tools"
portreg who c-daemon
portreg env

step "a crash: SIGKILL the C server; the registry notices at the next operation"
victim=$(portreg get c-daemon --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["holder"]["pid"])')
kill -9 "$victim"
sleep 0.3
portreg list --all

step "stop everything through portreg"
for name in $(portreg list --json | python3 -c 'import json,sys; [print(e["name"]) for e in json.load(sys.stdin) if e["state"]=="active"]'); do
  portreg kill "$name" --timeout 5
done
wait "$RUN_PID" 2>/dev/null || true
RUN_PID=
portreg list --all

# A whole project with `portreg up`: a database, a migration, an API, a front
# end, the C server and a shell service; two checkouts side by side.
scripts/demo-project.sh
echo
echo "demo finished"
