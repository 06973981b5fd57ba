#!/usr/bin/env bash
# Node: install, build the addon, check the generated index.js/index.d.ts have
# not drifted, type-check, run the node --test suites (package and Express
# example), then pack the package and use it from another folder.
#   scripts/test-node.sh --lint     only tsc --noEmit (part of `make lint`)
source "$(dirname "$0")/common.sh"
NODE_DIR="$ROOT/bindings-node"
EXAMPLE_DIR="$ROOT/examples/node"

typecheck() {
  step "tsc --noEmit (TypeScript usage of every function and option)"
  (cd "$NODE_DIR" && npm run --silent typecheck)
}
if [ "${1:-}" = --lint ]; then
  node_addon --deps
  typecheck
  exit 0
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

step "cargo build -p portreg-cli (the Rust binary the npm bin is compared with)"
cargo build -p portreg-cli
export PORTREG_CLI_BIN="$TARGET_DIR/debug/portreg"

step "npm ci, napi build, and the generated index.js / index.d.ts must not change"
# Compare with what is in the tree before the build, so the check holds
# whether or not the files are committed yet.
missing=()
for f in index.js index.d.ts; do
  if [ -f "$NODE_DIR/$f" ]; then cp "$NODE_DIR/$f" "$WORK/$f.before"; else missing+=("$f"); fi
done
node_addon
drift=0
for f in index.js index.d.ts; do
  if [ -f "$WORK/$f.before" ] && ! diff -u "$WORK/$f.before" "$NODE_DIR/$f"; then drift=1; fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bindings-node: ${missing[*]} missing from the tree; napi build wrote them now: commit them" >&2
  exit 1
fi
if [ "$drift" -ne 0 ]; then
  echo "bindings-node: index.js / index.d.ts are out of date with the Rust sources (diff above); commit the regenerated files" >&2
  exit 1
fi
if git -C "$ROOT" ls-files --error-unmatch bindings-node/index.js bindings-node/index.d.ts >/dev/null 2>&1; then
  git -C "$ROOT" diff --exit-code -- bindings-node/index.js bindings-node/index.d.ts
fi

typecheck

step "npm ci (examples/node)"
(cd "$EXAMPLE_DIR" && npm ci --no-audit --no-fund)
step "npm pack, install into a fresh folder, use it there"
(cd "$NODE_DIR" && npm pack --silent --pack-destination "$WORK" >/dev/null)
tarball="$(ls "$WORK"/portreg-*.tgz)"
contents="$(tar tzf "$tarball")"
for f in package/portreg.js package/portreg.d.ts package/index.js package/index.d.ts \
         package/bin/portreg.js package/portreg.linux-x64-gnu.node; do
  grep -qx "$f" <<<"$contents" || { echo "npm pack: $f missing from $tarball" >&2; exit 1; }
done
app="$WORK/app"
mkdir -p "$app"
(
  cd "$app"
  npm init -y >/dev/null
  npm install --no-audit --no-fund "$tarball"
  export PORTREG_HOME="$WORK/registry" PORTREG_RANGE=25950-25999
  node -e "
    const portreg = require('portreg');
    const lease = portreg.lease('packed');
    if (portreg.get('packed').holder.pid !== process.pid) throw new Error('not held by this process');
    console.log('require(\"portreg\") from the packed package: leased', lease.name, 'on', lease.url);
  "
  out="$(npx --no-install portreg list --all)"
  echo "$out"
  grep -Eq '^packed +259[5-9][0-9] +idle' <<<"$out" || { echo "npx portreg list: expected packed as idle" >&2; exit 1; }
  npx --no-install portreg get nobody && { echo "npx portreg get nobody: expected exit 1" >&2; exit 1; }
  # The installed package's types resolve as 'portreg' for a TypeScript app.
  cp "$NODE_DIR/__test__/usage.ts" .
  printf '{"compilerOptions":{"strict":true,"noEmit":true,"target":"es2022","module":"commonjs","types":["node"],"typeRoots":["%s"]},"files":["usage.ts"]}\n' \
    "$NODE_DIR/node_modules/@types" >tsconfig.json
  "$NODE_DIR/node_modules/.bin/tsc" -p tsconfig.json
  echo "packed package: require, npx portreg and its types work"
)

step "node --test (bindings-node/__test__, examples/node)"
node --test --test-timeout=300000 "$NODE_DIR/__test__/" "$EXAMPLE_DIR/"
