#!/usr/bin/env bash
# Python: venv, dev tools from PyPI, the native module (maturin develop), type
# checks (mypy --strict, stubtest), then pytest against real processes.
# Needs only CPython >= 3.10 with venv/pip and the Rust toolchain.
#   PYTHON=python3.12 scripts/test-python.sh    # another interpreter
#   scripts/test-python.sh --setup              # set up the venv only (used by demo-python.sh)
#   scripts/test-python.sh --wheel              # test the PEP 517 build (`pip install ./bindings-python`,
#                                               # release profile) instead of `maturin develop`
#   scripts/test-python.sh -- -k threads        # extra arguments go to pytest
source "$(dirname "$0")/common.sh"

setup_only=0
wheel=0
pytest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --setup) setup_only=1 ;;
    --wheel) wheel=1 ;;
    --) shift; pytest_args=("$@"); break ;;
    *) echo "usage: $0 [--setup] [--wheel] [-- PYTEST-ARGS...]" >&2; exit 2 ;;
  esac
  shift
done

PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"

step "venv ($VENV)"
if ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
  "$PYTHON" -m venv "$VENV"
fi
export VIRTUAL_ENV="$VENV"
export PATH="$VENV/bin:$PATH"
python -c 'import sys; assert sys.version_info >= (3, 10), "mypy needs Python >= 3.10 to run the checks (the package itself supports 3.8+)"'
python --version

step "pip install dev tools"
python -m pip install --quiet --disable-pip-version-check -r bindings-python/requirements-dev.txt

start=$SECONDS
if [ "$wheel" -eq 1 ]; then
  step "pip install ./bindings-python (PEP 517: maturin, release build)"
  python -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ./bindings-python
else
  step "maturin develop (debug build of portreg._native)"
  (cd bindings-python && maturin develop --quiet)
fi
echo "build and install: $((SECONDS - start)) s"
python -c 'import portreg, sys; print("testing", portreg.__file__, "on Python", sys.version.split()[0])'

[ "$setup_only" -eq 1 ] && exit 0

step "cargo build -p portreg-cli (the binary the Python CLI is compared with)"
cargo build --quiet -p portreg-cli
export PORTREG_BIN="$TARGET_DIR/debug/portreg"

step "cargo fmt --check, clippy -D warnings (portreg-python)"
cargo fmt -p portreg-python -- --check
cargo clippy --quiet -p portreg-python --all-targets -- -D warnings

step "mypy --strict (package, tests, examples) and stubtest"
python -m mypy --strict bindings-python/python/portreg bindings-python/tests examples/python bindings-python/bench
python -m mypy.stubtest portreg._native

step "pytest"
cd bindings-python
# never the user's registry, even if a test forgot its fixture
PORTREG_HOME="$(mktemp -d)/portreg-home" python -m pytest "${pytest_args[@]}"
