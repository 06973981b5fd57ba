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
# The venv with the package and the frameworks (quiet unless it fails).
log="$ROOT/.work/python-setup.log"
venv > "$log" 2>&1 || { cat "$log" >&2; echo "setting up the Python venv failed (log: $log)" >&2; exit 1; }
start_example "Python example \"$flask_name\" (Flask)" "$flask_name" 20 \
  python examples/python/flask_app.py "$flask_name"
start_example "Python example \"$fastapi_name\" (FastAPI + uvicorn)" "$fastapi_name" 20 \
  python examples/python/fastapi_app.py "$fastapi_name"
[ "${#started[@]}" -eq 0 ] || echo "stop them: kill ${started[*]}"
