#!/bin/sh
# The `status` service: the C example server (examples/c/http_server.c, built
# by scripts/demo-c.sh), which leases its port by name through libportreg.
# portreg leased this service's port under a registry name that depends on
# the checkout (status.shop, status.LABEL.shop), so look the name up by the
# port it was given; the C server runs as a child of this script, so it
# shares that lease: same name, same port.
set -eu
server="${C_SERVER:-$(command -v http_server || true)}"
[ -n "$server" ] && [ -x "$server" ] || {
  echo "status: no C example server: build it with scripts/demo-c.sh and put it on PATH, or set C_SERVER" >&2
  exit 1
}
name=$(portreg list --json | python3 -c '
import json, os, sys
port = int(os.environ["PORT"])
print(next(e["name"] for e in json.load(sys.stdin) if e["port"] == port and e["state"] == "active"))')
"$server" "$name"
