#!/usr/bin/env bash
# Starts the Python examples (examples/python/: a Flask app and a FastAPI app
# served by uvicorn) in the background, in the project's venv, each leasing
# its port by name; prints their URLs.
#
#   scripts/demo-python.sh [FLASK_NAME [FASTAPI_NAME]]   default flask-demo, fastapi-demo
#
# It uses the default registry ($PORTREG_HOME, else ~/.portreg). Running it
# again while they run prints where they already are. Stop them with the
# `kill` command it prints (they release their leases on SIGTERM).
source "$(dirname "$0")/common.sh"

flask_name="${1:-flask-demo}"
fastapi_name="${2:-fastapi-demo}"
logs="$ROOT/.work/python-examples"
mkdir -p "$logs"

# The venv with the package and the frameworks (quiet unless it fails).
if ! scripts/test-python.sh --setup > "$logs/setup.log" 2>&1; then
  cat "$logs/setup.log" >&2
  echo "setting up the Python venv failed (log: $logs/setup.log)" >&2
  exit 1
fi

pids=()

# start LABEL SCRIPT NAME: runs the example, waits for its URL (or for it
# saying it is already running), prints what happened.
start() {
  local label="$1" script="$2" name="$3"
  local log="$logs/$name.log" pid url
  nohup "$ROOT/.venv/bin/python" "examples/python/$script" "$name" > "$log" 2>&1 < /dev/null &
  pid=$!
  for _ in $(seq 200); do
    if url="$(grep -o 'serving at http://127.0.0.1:[0-9]*' "$log" | sed 's/^serving at //')"; then
      echo "Python example \"$name\" ($label) running at $url/ (pid $pid, log: $log)"
      pids+=("$pid")
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      if grep -q "already running at" "$log"; then
        echo "Python example \"$name\" ($label) $(grep -o 'already running at.*' "$log")"
        return 0
      fi
      cat "$log" >&2
      echo "the $label example exited before serving (log: $log)" >&2
      return 1
    fi
    sleep 0.1
  done
  cat "$log" >&2
  echo "the $label example printed no URL within 20 s (pid $pid, log: $log)" >&2
  return 1
}

start Flask flask_app.py "$flask_name"
start "FastAPI + uvicorn" fastapi_app.py "$fastapi_name"
if [ "${#pids[@]}" -gt 0 ]; then
  echo "stop them: kill ${pids[*]}"
fi
