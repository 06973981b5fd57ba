#!/usr/bin/env bash
# A short bounded fuzz run of both registry file readers (30 s each); the
# seeds and every past crash are also replayed by core/tests/fuzz_regressions.rs.
exec "$(dirname "$0")/fuzz.sh" "${FUZZ_SECONDS:-30}"
