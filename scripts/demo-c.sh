#!/usr/bin/env bash
# Builds the C example server (examples/c/http_server.c) and starts it in the
# background on the port portreg leases to NAME; prints its URL.
#
#   scripts/demo-c.sh [NAME]     NAME defaults to c-daemon
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

# A new log per start: a second start (already running) must not clobber the
# log of the server that runs; it becomes the name's log once serving.
log="$out/http_server-$name.log"
starting="$out/http_server-$name.$$.log"
nohup "$out/http_server" "$name" > "$starting" 2>&1 < /dev/null &
pid=$!
for _ in $(seq 100); do
  if url="$(grep -o 'http://127.0.0.1:[0-9]*/' "$starting")"; then
    mv "$starting" "$log"
    echo "C example \"$name\" running at $url (pid $pid)"
    echo "log: $log"
    echo "stop it: kill $pid"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    if grep -q "already running at" "$starting"; then
      cat "$starting"
      rm -f "$starting"
      exit 0
    fi
    cat "$starting" >&2
    echo "the C example exited before serving (log: $starting)" >&2
    exit 1
  fi
  sleep 0.1
done
cat "$starting" >&2
echo "the C example printed no URL within 10 s (pid $pid, log: $starting)" >&2
exit 1
