#!/usr/bin/env bash
# Builds the C example server (examples/c/http_server.c) and starts it in the
# background on the port portreg leases to NAME; prints its URL.
#
#   scripts/demo-c.sh [NAME]     NAME defaults to c-daemon
#   scripts/demo-c.sh --build-only   only builds it ($TARGET_DIR/c-examples/http_server)
#
# It uses the default registry ($PORTREG_HOME, else ~/.portreg). Running it
# again while the server runs prints the running server's URL. Stop the
# server with the `kill` command it prints (it releases its lease on SIGTERM).
source "$(dirname "$0")/common.sh"
name="${1:-c-daemon}"
out="$TARGET_DIR/c-examples"
mkdir -p "$out"
cargo build -q -p portreg-ffi
# Static: the running server does not depend on later rebuilds of libportreg.so.
cc -std=c99 -O2 -Wall -Wextra -Wpedantic -Werror -Iinclude examples/c/http_server.c \
  -o "$out/http_server" "$TARGET_DIR/debug/libportreg.a" -lpthread -ldl -lm
[ "$name" != --build-only ] || exit 0
start_example "C example \"$name\"" "$name" 10 "$out/http_server" "$name"
[ "${#started[@]}" -eq 0 ] || echo "stop it: kill ${started[*]}"
