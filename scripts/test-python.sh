#!/usr/bin/env bash
# Python: the venv with the dev tools and the native module, type checks
# (mypy --strict, stubtest), then pytest against real processes.
# Needs only CPython >= 3.10 with venv/pip and the Rust toolchain.
#   PYTHON=python3.12 scripts/test-python.sh    # another interpreter
#   scripts/test-python.sh --wheel              # test the PEP 517 build (`pip install ./bindings-python`,
#                                               # release profile) instead of `maturin develop`
#   scripts/test-python.sh --lint               # the type checks only (part of `make lint`)
#   scripts/test-python.sh --setup              # set up the venv only
#   scripts/test-python.sh -- -k threads        # extra arguments go to pytest
source "$(dirname "$0")/common.sh"

mode=test
install=()
how="maturin develop (debug build of portreg._native)"
pytest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --setup) mode=setup ;;
    --lint) mode=lint ;;
    --wheel) install=(--wheel); how="pip install ./bindings-python (PEP 517: maturin, release build)" ;;
    --) shift; pytest_args=("$@"); break ;;
    *) echo "usage: $0 [--setup|--lint] [--wheel] [-- PYTEST-ARGS...]" >&2; exit 2 ;;
  esac
  shift
done

step "venv (.venv): dev tools, then $how"
start=$SECONDS
venv "${install[@]}"
echo "set up in $((SECONDS - start)) s"
python -c 'import portreg, sys; print("testing", portreg.__file__, "on Python", sys.version.split()[0])'
[ "$mode" != setup ] || exit 0

step "mypy --strict (package, tests, examples) and stubtest"
python -m mypy --strict bindings-python/python/portreg bindings-python/tests examples/python bindings-python/bench
python -m mypy.stubtest portreg._native
[ "$mode" != lint ] || exit 0

step "cargo build -p portreg-cli (the binary the Python CLI is compared with)"
cargo build --quiet -p portreg-cli
export PORTREG_BIN="$TARGET_DIR/debug/portreg"

step "pytest"
cd bindings-python
# never the user's registry, even if a test forgot its fixture
PORTREG_HOME="$(mktemp -d)/portreg-home" python -m pytest "${pytest_args[@]}"
