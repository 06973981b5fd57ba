#!/usr/bin/env bash
# Fuzzes the registry file readers with cargo-fuzz (libFuzzer + ASan).
#   scripts/fuzz.sh            30 s per target (what `make test` runs)
#   scripts/fuzz.sh 3600       an hour per target, for a real hunt
# A crash is saved under fuzz/artifacts/TARGET/; copy it into
# fuzz/regressions/TARGET/ so core/tests/fuzz_regressions.rs replays it forever.
source "$(dirname "$0")/common.sh"
secs="${1:-30}"
unset CARGO_BUILD_TARGET   # cargo-fuzz picks its own target and flags
if ! cargo fuzz --version >/dev/null 2>&1; then
  step "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
# libFuzzer needs nightly-only flags; the stable toolchain accepts them with this.
export RUSTC_BOOTSTRAP=1
cd fuzz
for target in registry_file leases_file; do
  step "fuzz $target for ${secs}s"
  mkdir -p "corpus/$target"
  rm -rf "artifacts/$target"
  cargo fuzz run "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 2>&1 \
    | grep -E "^(#[0-9]+.*DONE|Done|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY)" || true
  # cargo fuzz exits non-zero on a crash; grep above hides nothing of that:
  if ls "artifacts/$target"/crash-* "artifacts/$target"/timeout-* "artifacts/$target"/oom-* >/dev/null 2>&1; then
    echo "fuzz $target found failing inputs:" >&2
    ls "artifacts/$target" >&2
    exit 1
  fi
done
