# Sourced by every script and by the Makefile's recipes: one set of cargo
# artifacts for cargo, maturin and napi, and the helpers they share.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
HOST="$(rustc -vV | sed -n 's/^host: //p')"
export CARGO_BUILD_TARGET="$HOST"
TARGET_DIR="$ROOT/target/$HOST"
export TARGET_DIR
mkdir -p "$ROOT/.work"
step() { printf '\n==> %s\n' "$*"; }

# need_apt COMMAND PACKAGE: installs a Debian package when COMMAND is missing.
need_apt() {
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "installing $2 (for $1)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ -z "${_APT_UPDATED:-}" ]; then $sudo apt-get update -qq; _APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$2" >/dev/null
}

# wait_server PID WHERE [SECONDS]: waits until a server accepts connections on
# loopback while PID lives, and prints its URL. WHERE is a port, a URL, or the
# log in which the server prints its http://127.0.0.1:PORT URL (a line saying
# "already running at URL" names another process's server, not this one's).
# Returns 1 when PID exits first, 2 after SECONDS (default 10).
wait_server() {
  local pid="$1" where="$2" deadline=$((SECONDS + ${3:-10})) url port
  while :; do
    case "$where" in
      *[!0-9]*) url="$where" ;;
      *) url="http://127.0.0.1:$where" ;;
    esac
    if [ -f "$where" ]; then
      url="$(grep -v 'already running at' "$where" | grep -o 'http://127\.0\.0\.1:[0-9]*' | head -n1 || true)"
    fi
    port="${url#http://*:}"
    port="${port%%/*}"
    if [ -n "$url" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$url"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || return 1
    [ "$SECONDS" -lt "$deadline" ] || return 2
    sleep 0.1
  done
}

# venv [--wheel]: the project's venv in .venv (made by $PYTHON, default
# python3) with bindings-python/requirements-dev.txt, pip-installed only when
# that file changed, and the portreg package: `maturin develop` (debug), or
# with --wheel what users run, `pip install ./bindings-python` (PEP 517,
# release). Leaves the venv first on PATH.
venv() {
  local dir="$ROOT/.venv" reqs="$ROOT/bindings-python/requirements-dev.txt"
  "$dir/bin/python" -c 'import sys' 2>/dev/null || "${PYTHON:-python3}" -m venv "$dir"
  export VIRTUAL_ENV="$dir" PATH="$dir/bin:$PATH"
  python -c 'import sys; assert sys.version_info >= (3, 10), "mypy needs Python >= 3.10 to run the checks (the package itself supports 3.8+)"'
  if ! cmp -s "$reqs" "$dir/requirements-dev.installed"; then
    python -m pip install --quiet --disable-pip-version-check -r "$reqs"
    cp "$reqs" "$dir/requirements-dev.installed"
  fi
  if [ "${1:-}" = --wheel ]; then
    python -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ./bindings-python
  else
    (cd bindings-python && maturin develop --quiet)
  fi
}

# node_addon [--release|--deps]: bindings-node's npm packages (npm ci when the
# lockfile is newer than the install) and its addon, built by napi (debug
# unless --release; not at all with --deps), which also regenerates index.js
# and index.d.ts.
node_addon() {
  local dir="$ROOT/bindings-node"
  if [ ! "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
    (cd "$dir" && npm ci --silent --no-audit --no-fund)
  fi
  case "${1:-}" in
    --deps) ;;
    --release) (cd "$dir" && npm run --silent build >/dev/null) ;;
    *) (cd "$dir" && npm run --silent build:debug >/dev/null) ;;
  esac
}

# start_example LABEL NAME SECONDS COMMAND...: starts an example server in the
# background, in its own session (a later Ctrl-C here does not stop it), and
# says where it serves, or where NAME already runs. Its pid is added to
# $started; its log is .work/examples/NAME.log once it serves.
started=()
start_example() {
  local label="$1" name="$2" secs="$3" pid url status
  shift 3
  mkdir -p "$ROOT/.work/examples"
  local log="$ROOT/.work/examples/$name.log"
  # A new log per start: a copy that refuses to start must not clobber the
  # log of the one that runs.
  local starting="$ROOT/.work/examples/$name.$$.log"
  setsid "$@" > "$starting" 2>&1 < /dev/null &
  pid=$!
  url="$(wait_server "$pid" "$starting" "$secs")" && status=0 || status=$?
  if [ "$status" -eq 0 ]; then
    mv "$starting" "$log"
    echo "$label running at $url/ (pid $pid, log: $log)"
    started+=("$pid")
  elif grep -q "already running at" "$starting"; then
    echo "$label $(grep -o 'already running at.*' "$starting")"
    rm -f "$starting"
  else
    [ "$status" -eq 1 ] || kill "$pid" 2>/dev/null || true
    cat "$starting" >&2
    echo "$label did not start serving within $secs s (log: $starting)" >&2
    return 1
  fi
}
