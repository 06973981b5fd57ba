#!/usr/bin/env bash
# Starts the Express example (examples/node) in the background on its portreg
# lease and prints its URL. Usage: scripts/demo-node.sh [NAME]  (default node-demo)
# The registry is the usual one ($PORTREG_HOME, else ~/.portreg), so every
# language's demo server shares it. Stop it with: kill PID (it releases its lease).
source "$(dirname "$0")/common.sh"
NAME="${1:-node-demo}"
NODE_DIR="$ROOT/bindings-node"
EXAMPLE_DIR="$ROOT/examples/node"

[ -d "$NODE_DIR/node_modules" ] || (cd "$NODE_DIR" && npm ci --no-audit --no-fund >/dev/null)
addon="$(ls "$NODE_DIR"/portreg.*.node 2>/dev/null | head -n1 || true)"
if [ -z "$addon" ] || [ -n "$(find "$NODE_DIR/src" "$ROOT/core/src" "$ROOT/cli/src" -newer "$addon" -name '*.rs' | head -n1)" ]; then
  echo "building the Node addon..." >&2
  (cd "$NODE_DIR" && npm run --silent build:debug >/dev/null)
fi
[ -d "$EXAMPLE_DIR/node_modules" ] || (cd "$EXAMPLE_DIR" && npm ci --no-audit --no-fund >/dev/null)

mkdir -p "$ROOT/.work"
LOG="$ROOT/.work/demo-node-$NAME.log"
# A fresh file per start (renamed once the server is up), so a second copy
# that refuses to start does not overwrite the running server's log.
START_LOG="$(mktemp "$ROOT/.work/demo-node-start.XXXXXX")"
# Its own session: a Ctrl-C in this terminal later does not stop the server.
setsid node "$EXAMPLE_DIR/server.js" "$NAME" >"$START_LOG" 2>&1 < /dev/null &
starter=$!

for _ in $(seq 1 100); do
  if line="$(grep -m1 'listening at' "$START_LOG")"; then
    mv "$START_LOG" "$LOG"
    # "NAME listening at http://127.0.0.1:PORT (pid N)"
    url="$(sed -E 's/.* at (http[^ ]+) .*/\1/' <<<"$line")"
    pid="$(sed -E 's/.*\(pid ([0-9]+)\).*/\1/' <<<"$line")"
    echo "node: $NAME at $url (pid $pid; log $LOG; stop: kill $pid)"
    exit 0
  fi
  if ! kill -0 "$starter" 2>/dev/null; then
    wait "$starter" && status=0 || status=$?
    cat "$START_LOG" >&2
    rm -f "$START_LOG"
    exit "$status"
  fi
  sleep 0.1
done
echo "node: $NAME did not start within 10 s; see $START_LOG" >&2
exit 1
