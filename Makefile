# The few commands people run. `make help` lists them.
.PHONY: help demo test lint bench race build header

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

demo: ## set everything up and run the demo: servers in several languages sharing one registry
	@scripts/demo.sh

test: ## set everything up and run every test suite (what CI runs)
	@scripts/test.sh

lint: ## formatting and lints only
	@cargo fmt --all -- --check && cargo clippy --workspace --all-targets -- -D warnings

bench: ## every benchmark and the race against the peers; rewrites BENCHMARKS.md
	@scripts/bench.sh

race: ## only the race: 20 processes ask get-port, portfinder, detect-port, portpicker, port-for and portreg at once
	@RACE_ONLY=1 scripts/bench.sh

build: ## build the portreg binary (release)
	@cargo build --release -p portreg-cli

header: ## regenerate include/portreg.h from ffi/src with cbindgen (nothing else writes it)
	@PORTREG_WRITE_HEADER=1 cargo test -q -p portreg-ffi --test header
