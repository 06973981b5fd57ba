#!/usr/bin/env bash
# `make bench-project`: the release portreg, honcho 2.0.0 from PyPI in
# .work/bench-project (a venv, never committed), then bench/project/bench.py,
# which prints the figures and the "Projects at scale" section of
# BENCHMARKS.md (also written to .work/bench-project.md).
source "$(dirname "$0")/../../scripts/common.sh"

step "release build: portreg CLI"
cargo build --release -q -p portreg-cli

step "honcho from PyPI, in .work/bench-project"
[ -x .work/bench-project/bin/python ] || python3 -m venv .work/bench-project
.work/bench-project/bin/pip install -q --disable-pip-version-check honcho==2.0.0

step "50 services: portreg up -d, an ideal launcher, honcho"
PORTREG_BIN="$TARGET_DIR/release/portreg" HONCHO="$ROOT/.work/bench-project/bin/honcho" \
  python3 bench/project/bench.py --markdown .work/bench-project.md "$@"
