#!/usr/bin/env bash
# Rust: format, lints, and every core and CLI test (real processes, sockets, SIGKILL).
source "$(dirname "$0")/common.sh"
step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
step "cargo test (core, cli, ffi)"
cargo test
