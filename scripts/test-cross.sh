#!/usr/bin/env bash
# Cross-language soak (about a minute): C, Python, Node and CLI workers lease,
# bind, release and get SIGKILLed against one registry; no port is ever held
# by two live processes. Sets up what it needs (the Python venv, the Node
# addon, libportreg) if the language suites have not already.
source "$(dirname "$0")/common.sh"
step "set up: portreg CLI, libportreg, Python venv, Node addon"
cargo build -q -p portreg-cli -p portreg-ffi
scripts/test-python.sh --setup > "$ROOT/.work/cross-python-setup.log" 2>&1 \
  || { cat "$ROOT/.work/cross-python-setup.log"; exit 1; }
if ! ls bindings-node/*.node >/dev/null 2>&1; then
  (cd bindings-node && npm ci --silent --no-audit --no-fund && npm run --silent build:debug >/dev/null)
fi
mkdir -p "$TARGET_DIR/cross"
cc -std=c99 -O2 -Wall -Wextra -Werror -Iinclude tests/cross/worker.c \
  "$TARGET_DIR/debug/libportreg.a" -lpthread -ldl -lm -o "$TARGET_DIR/cross/worker-c"
step "soak"
PORTREG_BIN="$TARGET_DIR/debug/portreg" PORTREG_NODE="$ROOT/bindings-node" \
  C_WORKER="$TARGET_DIR/cross/worker-c" PY="$ROOT/.venv/bin/python" \
  python3 tests/cross/soak.py "${SOAK_SECONDS:-60}"
