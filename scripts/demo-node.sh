#!/usr/bin/env bash
# Starts the Express example (examples/node) in the background on its portreg
# lease and prints its URL. Usage: scripts/demo-node.sh [NAME]  (default node-demo)
# The registry is the usual one ($PORTREG_HOME, else ~/.portreg), so every
# language's demo server shares it. Stop it with: kill PID (it releases its lease).
source "$(dirname "$0")/common.sh"
name="${1:-node-demo}"
echo "building the Node addon..." >&2
node_addon
[ -d examples/node/node_modules ] || (cd examples/node && npm ci --silent --no-audit --no-fund)
start_example "Node example \"$name\" (Express)" "$name" 10 node examples/node/server.js "$name"
[ "${#started[@]}" -eq 0 ] || echo "stop it: kill ${started[*]}"
