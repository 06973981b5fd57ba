# Sourced by every script: one set of cargo artifacts for cargo, maturin and napi.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
HOST="$(rustc -vV | sed -n 's/^host: //p')"
export CARGO_BUILD_TARGET="$HOST"
TARGET_DIR="$ROOT/target/$HOST"
export TARGET_DIR
step() { printf '\n==> %s\n' "$*"; }

# need_apt COMMAND PACKAGE: installs a Debian package when COMMAND is missing.
need_apt() {
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "installing $2 (for $1)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ -z "${_APT_UPDATED:-}" ]; then $sudo apt-get update -qq; _APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$2" >/dev/null
}
mkdir -p "$ROOT/.work"
