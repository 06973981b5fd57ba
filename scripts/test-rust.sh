#!/usr/bin/env bash
# Rust: format, lints, and every core and CLI test (real processes, sockets,
# SIGKILL, and the durable-write syscalls observed with strace).
source "$(dirname "$0")/common.sh"
need_apt strace strace
export PORTREG_REQUIRE_STRACE=1
# CI runs as root: the chown/chattr/setpriv fault tests must run, not skip.
[ "$(id -u)" -ne 0 ] || export PORTREG_REQUIRE_ROOT=1
need_apt prlimit util-linux
step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
step "cargo test (core, cli, ffi)"
cargo test
