#!/usr/bin/env bash
# `make bench`: release builds, the peers (npm: get-port, portfinder,
# detect-port; PyPI: portpicker, port-for) and the tools (npm:
# playwright-core for the dashboard's page in Debian's chromium; Debian:
# hyperfine for whole-process timings) installed into bench/race/peers
# (git-ignored, never committed), then bench/report.py, which runs every
# benchmark and the race and rewrites BENCHMARKS.md.
#
# Parts: BENCH_ONLY="cli roundtrip" (space-separated: cargo, roundtrip, cli,
# dashboard, memory, race) runs only those and prints their figures
# without rewriting BENCHMARKS.md.
source "$(dirname "$0")/common.sh"
PEERS="$ROOT/bench/race/peers"
mkdir -p "$PEERS"

step "release builds: portreg CLI and libportreg"
cargo build --release -q -p portreg-cli -p portreg-ffi
cc -std=c99 -O2 -Wall -Wextra -Werror -Iinclude bench/roundtrip/roundtrip.c \
  "$TARGET_DIR/release/libportreg.a" -lpthread -ldl -lm -o "$PEERS/roundtrip-c"
rustc -O -C strip=debuginfo bench/startup/hello.rs -o "$PEERS/hello-rust"
# The CLI as the release tarball ships it: static, for x86_64 musl (timed
# beside the glibc build above, which `cargo install` gives).
STATIC_BIN=""
if rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
  cargo build --release -q -p portreg-cli --bin portreg --target x86_64-unknown-linux-musl
  STATIC_BIN="$ROOT/target/x86_64-unknown-linux-musl/release/portreg"
else
  echo "skipped: the static CLI's timings (rustup has no x86_64-unknown-linux-musl target here)"
fi

step "tools: hyperfine (Debian), chromium (Debian, for the dashboard's page)"
need_apt hyperfine hyperfine
[ -x /usr/bin/chromium ] || need_apt chromium chromium

step "Node addon (release)"
node_addon --release

step "peers from npm"
cat > "$PEERS/package.json" <<'JSON'
{ "name": "portreg-race-peers", "private": true,
  "dependencies": { "get-port": "7.2.0", "portfinder": "1.0.38", "detect-port": "2.1.0",
                    "playwright-core": "1.65.1" } }
JSON
(cd "$PEERS" && npm install --silent --no-audit --no-fund)

step "peers from PyPI, and portreg's wheel, in $PEERS/venv"
[ -x "$PEERS/venv/bin/python" ] || python3 -m venv "$PEERS/venv"
"$PEERS/venv/bin/pip" install -q --disable-pip-version-check portpicker==1.6.0 port-for==1.1.1 honcho==2.0.0
"$PEERS/venv/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps ./bindings-python

export PEERS_DIR="$PEERS" PEERS_PYTHON="$PEERS/venv/bin/python" \
  PORTREG_BIN="$TARGET_DIR/release/portreg" PORTREG_STATIC_BIN="$STATIC_BIN" PORTREG_NODE="$ROOT/bindings-node" \
  C_ROUNDTRIP="$PEERS/roundtrip-c" HONCHO="$PEERS/venv/bin/honcho" \
  PLAYWRIGHT="$PEERS" CHROMIUM=/usr/bin/chromium
if [ -n "${RACE_ONLY:-}" ]; then
  step "the race"
  exec python3 bench/race/race.py get-port portfinder detect-port portpicker port-for \
    portreg-cli portreg-python portreg-node
fi
step "benchmarks"
python3 bench/report.py
