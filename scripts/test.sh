#!/usr/bin/env bash
# Sets up everything a fresh machine needs (venv, pip, npm) and runs every test suite.
source "$(dirname "$0")/common.sh"
suites=(rust c python node cross dashboard fuzz)
passed=0; failed=0; failed_names=()
for s in "${suites[@]}"; do
  step "suite: $s"
  args=()
  # The Python suite tests what users run: pip install ./bindings-python (PEP 517).
  [ "$s" = python ] && args=(--wheel)
  if "scripts/test-$s.sh" "${args[@]}"; then passed=$((passed+1)); else failed=$((failed+1)); failed_names+=("$s"); fi
done
echo
[ "$failed" -eq 0 ] || echo "failed suites: ${failed_names[*]}"
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
