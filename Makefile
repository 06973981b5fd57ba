# The few commands people run. `make help` lists them. Each recipe is one bash
# script (.ONESHELL) that first sources scripts/common.sh: the shared cargo
# target, step, need_apt, wait_server, venv and node_addon.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
.DEFAULT_GOAL := help
COMMON := source scripts/common.sh
SUITES := rust c python node cross dashboard fuzz dist

.PHONY: help demo test lint bench bench-project race build header dist dist-test lint-rust $(addprefix test-,$(SUITES))

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

demo: ## set everything up and run the demo: servers in several languages sharing one registry, then a whole project (PostgreSQL, Python, Node, C, shell) with portreg up -d, twice side by side
	@scripts/demo.sh

test: ## set everything up and run every suite below, going on past a failed one (what CI runs)
	@passed=0 failed=0 names=""
	for s in $(SUITES); do
	  printf '\n==> suite: %s\n' "$$s"
	  if $(MAKE) --no-print-directory "test-$$s"; then passed=$$((passed + 1)); else failed=$$((failed + 1)); names="$$names $$s"; fi
	done
	echo
	[ "$$failed" -eq 0 ] || echo "failed suites:$$names"
	echo "suites: $$passed passed, $$failed failed"
	[ "$$failed" -eq 0 ]

test-rust: lint-rust ## Rust: fmt, clippy, every core, CLI and ffi test (real processes, strace, the C example server, the header), core and CLI again on musl
	@$(COMMON)
	need_apt strace strace
	need_apt prlimit util-linux
	export PORTREG_REQUIRE_STRACE=1
	# CI runs as root: the chown/chattr/setpriv fault tests must run, not skip.
	[ "$$(id -u)" -ne 0 ] || export PORTREG_REQUIRE_ROOT=1
	step "cargo test (core, cli, ffi)"
	cargo test
	# The static CLI and the musl wheel and npm package are built on musl,
	# whose libc differs in what nix offers and how files are opened.
	step "cargo test --target x86_64-unknown-linux-musl (core, cli)"
	if rustup target add x86_64-unknown-linux-musl >/dev/null 2>&1; then
	  cargo test -p portreg-core -p portreg-cli --target x86_64-unknown-linux-musl
	else
	  echo "skipped: the musl tests (rustup cannot add x86_64-unknown-linux-musl here)"
	fi

test-c: ## C: the C tests as C99 and C++, shared and static, natively and under valgrind; install + pkg-config
	@scripts/test-c.sh

test-python: ## Python: the wheel users get (pip install ./bindings-python), mypy --strict, stubtest, pytest
	@scripts/test-python.sh --wheel

test-node: ## Node: the addon, generated index.js/.d.ts unchanged, tsc, node --test, the packed package
	@scripts/test-node.sh

test-dashboard: ## dashboard: JSON API and proxy over real HTTP, the page in headless Chromium
	@scripts/test-dashboard.sh

test-cross: ## C, Python, Node and CLI workers share one registry for a minute (SOAK_SECONDS, default 60)
	@$(COMMON)
	step "set up: portreg CLI, libportreg, Python venv, Node addon"
	cargo build -q -p portreg-cli -p portreg-ffi
	venv > .work/cross-python-setup.log 2>&1 || { cat .work/cross-python-setup.log; exit 1; }
	node_addon
	mkdir -p "$$TARGET_DIR/cross"
	cc -std=c99 -O2 -Wall -Wextra -Werror -Iinclude tests/cross/worker.c \
	  "$$TARGET_DIR/debug/libportreg.a" -lpthread -ldl -lm -o "$$TARGET_DIR/cross/worker-c"
	step "soak"
	PORTREG_BIN="$$TARGET_DIR/debug/portreg" PORTREG_NODE="$$ROOT/bindings-node" \
	  C_WORKER="$$TARGET_DIR/cross/worker-c" PY="$$ROOT/.venv/bin/python" \
	  python3 tests/cross/soak.py "$${SOAK_SECONDS:-60}"

test-dist: ## the release artifacts: make dist, then make dist-test
	@scripts/dist.sh
	scripts/dist-test.sh

test-fuzz: ## a bounded fuzz run of both registry file readers (FUZZ_SECONDS each, default 30)
	@scripts/fuzz.sh "$${FUZZ_SECONDS:-30}"

lint: lint-rust ## formatting, clippy, mypy --strict, stubtest and tsc --noEmit (sets up the venv and npm)
	@scripts/test-python.sh --lint
	scripts/test-node.sh --lint

lint-rust:
	@$(COMMON)
	step "cargo fmt --check"
	cargo fmt --all -- --check
	step "cargo clippy -D warnings (every crate)"
	cargo clippy --workspace --all-targets -- -D warnings

header: ## regenerate include/portreg.h from ffi/src with cbindgen (nothing else writes it)
	@$(COMMON)
	PORTREG_WRITE_HEADER=1 cargo test -q -p portreg-ffi --test header

bench: ## every benchmark and the race against the peers; rewrites BENCHMARKS.md
	@scripts/bench.sh

bench-project: ## 50 services brought up by portreg up -d, against an ideal launcher and honcho; prints the "Projects at scale" section
	@bench/project/run.sh

race: ## only the race: 20 processes ask get-port, portfinder, detect-port, portpicker, port-for and portreg at once
	@RACE_ONLY=1 scripts/bench.sh

build: ## build the portreg binary (release)
	@$(COMMON)
	cargo build --release -p portreg-cli
	echo "built $$TARGET_DIR/release/portreg"

dist: ## every release artifact into dist/: abi3 wheels (manylinux2014 x86_64/aarch64, musllinux) + sdist, npm packages, C tarballs, static CLIs
	@scripts/dist.sh

dist-test: ## install and use each x86_64 artifact of dist/ with no Rust toolchain on PATH; check the aarch64 ones (qemu)
	@scripts/dist-test.sh
