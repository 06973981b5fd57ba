#!/usr/bin/env bash
# Dashboard: the JSON API, its refusals (token, Origin, Host, other users) and
# the NAME.localhost proxy with WebSockets over real HTTP on loopback (Rust),
# then the page end to end in headless Chromium (Debian's package, driven by
# playwright-core) with services leased from Python and Node processes and
# projects brought up with `portreg up -d`.
# Sets up what a fresh machine lacks: Debian's chromium, npm ci.
# Ports used: 26000-26999. Registries: temporary, never ~/.portreg.
source "$(dirname "$0")/common.sh"

work="$(mktemp -d "${TMPDIR:-/tmp}/portreg-test-dashboard.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export PORTREG_HOME="$work/home"
unset PORTREG_RANGE

step "tools"
if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium (for /usr/bin/chromium)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
for tool in python3 node npm; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is needed and missing" >&2; exit 1; }
done
/usr/bin/chromium --version
echo "node $(node --version), npm $(npm --version), $(python3 --version)"

step "npm ci (tests/dashboard: playwright-core, no browser download)"
(cd tests/dashboard && npm ci --no-audit --no-fund)

step "cargo build -p portreg-cli"
cargo build -p portreg-cli

step "the Python and Node packages the test services lease through"
scripts/test-python.sh --setup > "$ROOT/.work/dashboard-python-setup.log" 2>&1 \
  || { cat "$ROOT/.work/dashboard-python-setup.log"; exit 1; }
if ! ls bindings-node/*.node >/dev/null 2>&1; then
  (cd bindings-node && npm ci --silent --no-audit --no-fund && npm run --silent build:debug >/dev/null)
fi

passed=0
failed=0
count() { # count LOG: adds up the passed and failed tests a runner's log reports
  local p f
  p=$(grep -Eo '(test result: [a-zA-Z]+\. [0-9]+ passed|^# pass [0-9]+)' "$1" | grep -Eo '[0-9]+' | awk '{s+=$1} END {print s+0}')
  f=$(grep -Eo '([0-9]+ failed;|^# fail [0-9]+)' "$1" | grep -Eo '[0-9]+' | awk '{s+=$1} END {print s+0}')
  passed=$((passed + p))
  failed=$((failed + f))
}
status=0

step "API tests: cargo test -p portreg-dashboard (unit tests, then tests/dashboard_api.rs)"
if ! PORTREG_BIN="$TARGET_DIR/debug/portreg" cargo test -p portreg-dashboard 2>&1 | tee "$work/api.log"; then status=1; fi
count "$work/api.log"

step "browser tests: node --test tests/dashboard (headless /usr/bin/chromium)"
if ! (cd tests/dashboard && PORTREG_BIN="$TARGET_DIR/debug/portreg" \
  node --test --test-concurrency=1 --test-timeout=90000 --test-reporter=tap dashboard.test.mjs projects.test.mjs many.test.mjs) 2>&1 | tee "$work/browser.log"; then
  status=1
fi
count "$work/browser.log"

echo
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ] || { echo "dashboard tests FAILED"; status=1; }
echo "dashboard: $passed passed, $failed failed"
exit "$status"
