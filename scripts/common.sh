# Sourced by every script: one set of cargo artifacts for cargo, maturin and napi.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
HOST="$(rustc -vV | sed -n 's/^host: //p')"
export CARGO_BUILD_TARGET="$HOST"
TARGET_DIR="$ROOT/target/$HOST"
export TARGET_DIR
step() { printf '\n==> %s\n' "$*"; }
