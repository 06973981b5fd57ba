#!/usr/bin/env bash
# make dist-test: installs each x86_64 artifact of dist/ (made by `make dist`)
# and uses it as a user would, from the files in dist/ only, in a clean
# environment with no Rust toolchain on PATH (env -i PATH=/usr/bin:/bin and a
# fresh HOME). The aarch64 artifacts are checked for their architecture, and
# the aarch64 CLI runs under qemu-aarch64 (Debian's qemu-user-static).
source "$(dirname "$0")/common.sh"
DIST="$ROOT/dist"
VERSION="$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"$/\1/p' Cargo.toml)"
MAJOR="${VERSION%%.*}"
[ -d "$DIST" ] || { echo "no dist/: run make dist first" >&2; exit 1; }
need_apt cmake cmake
need_apt pkg-config pkg-config
need_apt readelf binutils
need_apt file file
need_apt qemu-aarch64-static qemu-user-static

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/home"
fail() { echo "dist-test: $*" >&2; exit 1; }
# A user's shell: nothing from this one but /usr/bin:/bin, HOME a fresh folder
# (so the registry is a fresh ~/.portreg too).
user() { env -i PATH=/usr/bin:/bin HOME="$WORK/home" LANG=C.UTF-8 "$@"; }
# artifact GLOB: the one file of dist/ matching it, or fail naming what is missing.
artifact() {
  local found=("$DIST"/$1)
  [ -f "${found[0]}" ] || fail "dist/$1 is missing$(grep -s "${1//\*/}" "$DIST/SKIPPED" | sed 's/^/ (/;s/$/)/')"
  echo "${found[0]}"
}
# arch FILE MACHINE: the ELF file is built for MACHINE (readelf's name for it).
arch() {
  local m
  m="$(readelf -h "$1" | sed -n 's/^ *Machine: *//p')"
  [ "$m" = "$2" ] || fail "$1 is for '$m', not '$2'"
  echo "  $(basename "$1"): $(file -b "$1" | cut -d, -f1-2)"
}
# sgrep: grep that reads all its input first, so `cmd | sgrep -q X` does not
# fail the pipeline (pipefail) by closing it on cmd at the first match.
sgrep() {
  local input
  input="$(cat)"
  grep "$@" <<<"$input"
}
CHECKED=()
checked() { CHECKED+=("$*"); }

step "no Rust toolchain in the clean environment"
user sh -c '! command -v cargo && ! command -v rustc && ! command -v rustup' ||
  fail "cargo or rustc is on PATH=/usr/bin:/bin; the proof would not hold"
echo "env -i PATH=/usr/bin:/bin: no cargo, rustc or rustup"
if [ -s "$DIST/SKIPPED" ]; then
  echo "make dist skipped:"
  cat "$DIST/SKIPPED"
fi

# ------------------------------------------------------------------ Python ---
step "Python: the manylinux2014 x86_64 wheel into a fresh venv"
whl="$(artifact "portreg-$VERSION-cp38-abi3-*manylinux_2_17_x86_64*.whl")"
user /usr/bin/python3 -m venv "$WORK/venv"
user "$WORK/venv/bin/pip" install --quiet --no-index --disable-pip-version-check "$whl"
user "$WORK/venv/bin/python" - <<'EOF'
import portreg
lease = portreg.lease("frontend")
entry = portreg.get("frontend")
assert entry is not None and entry.port == lease.port, (entry, lease)
print(f"import portreg: leased frontend on port {lease.port}")
EOF
out="$(user "$WORK/venv/bin/python" -m portreg list --all)"
echo "$out"
grep -Eq '^frontend +[0-9]+ ' <<<"$out" || fail "python -m portreg list: no frontend"
v="$(user "$WORK/venv/bin/portreg" --version)"
[ "$v" = "portreg $VERSION" ] || fail "the wheel's portreg --version says '$v'"
unzip -l "$whl" | sgrep -q 'dist-info/licenses/LICENSE-MIT$' || fail "no LICENSE-MIT in $(basename "$whl")"
checked "$(basename "$whl"): pip install into a fresh venv, import portreg, lease, python -m portreg list, portreg --version"

# -------------------------------------------------------------------- Node ---
step "Node: the npm tarballs into a fresh folder"
main_tgz="$(artifact "portreg-$VERSION.tgz")"
gnu_tgz="$(artifact "portreg-linux-x64-gnu-$VERSION.tgz")"
app="$WORK/node-app"
mkdir -p "$app"
tar tzf "$main_tgz" | sgrep -q '\.node$' && fail "$(basename "$main_tgz") carries a .node file"
tar xzf "$main_tgz" -O package/package.json | sgrep -q "\"portreg-linux-x64-gnu\": \"$VERSION\"" ||
  fail "$(basename "$main_tgz"): no optionalDependencies on portreg-linux-x64-gnu@$VERSION"
user sh -c "cd '$app' && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error '$main_tgz' '$gnu_tgz'"
user sh -c "cd '$app' && node -e \"
  const portreg = require('portreg');
  const lease = portreg.lease('frontend-node');
  if (portreg.get('frontend-node').holder.pid !== process.pid) throw new Error('not held by this process');
  console.log('require(\\\"portreg\\\"): leased', lease.name, 'on', lease.port);
\""
user sh -c "cd '$app' && node --input-type=module -e \"
  import portreg, { lease, get } from 'portreg';
  const l = lease('frontend-esm');
  if (get('frontend-esm').port !== l.port || portreg.lease !== lease) throw new Error('ESM entry is not the package');
  console.log('import portreg: leased', l.name, 'on', l.port);
\""
out="$(user sh -c "cd '$app' && npx --no-install portreg list --all")"
echo "$out"
grep -Eq '^frontend-node +[0-9]+ ' <<<"$out" || fail "npx portreg list: no frontend-node"
# With the platform package gone, the error names the package to install.
rm -rf "$app/node_modules/portreg-linux-x64-gnu"
msg="$(user sh -c "cd '$app' && node -e \"require('portreg')\"" 2>&1)" && fail "require('portreg') without its platform package worked"
grep -q "npm install portreg-linux-x64-gnu@$VERSION" <<<"$msg" || fail "the missing-platform error does not name the package: $msg"
echo "without portreg-linux-x64-gnu: $(grep -o 'portreg: the native module.*' <<<"$msg" | cut -c1-100)..."
for t in "$main_tgz" "$gnu_tgz"; do
  tar tzf "$t" | sgrep -q '^package/LICENSE-APACHE$' || fail "no LICENSE-APACHE in $(basename "$t")"
done
checked "$(basename "$main_tgz") + $(basename "$gnu_tgz"): npm install in a fresh folder, require, ESM import, npx portreg list, the missing-platform error"

# ----------------------------------------------------------------------- C ---
step "C: the x86_64 tarball installed with DESTDIR and PREFIX"
ctar="$(artifact "libportreg-$VERSION-x86_64-linux-gnu.tar.gz")"
user tar -C "$WORK" -xzf "$ctar"
stage="$WORK/stage"
prefix=/opt/portreg
user env DESTDIR="$stage" PREFIX="$prefix" "$WORK/libportreg-$VERSION-x86_64-linux-gnu/install.sh"
lib="$stage$prefix/lib"
[ "$(readlink "$lib/libportreg.so")" = "libportreg.so.$MAJOR" ] || fail "libportreg.so is not a symlink to libportreg.so.$MAJOR"
[ "$(readlink "$lib/libportreg.so.$MAJOR")" = "libportreg.so.$VERSION" ] || fail "libportreg.so.$MAJOR is not a symlink to libportreg.so.$VERSION"
soname="$(readelf -d "$lib/libportreg.so.$VERSION" | grep SONAME)"
echo "readelf -d libportreg.so.$VERSION: $soname"
[[ "$soname" == *"[libportreg.so.$MAJOR]"* ]] || fail "SONAME is not libportreg.so.$MAJOR"
glibc="$(objdump -T "$lib/libportreg.so.$VERSION" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n1)"
echo "newest glibc symbol version it needs: $glibc"
[ -z "$(printf '%s\n' "$glibc" GLIBC_2.17 | sort -V | tail -n1 | grep -vx GLIBC_2.17)" ] || fail "needs $glibc, newer than 2.17"

build="$WORK/c-build"
mkdir -p "$build"
cp tests/c/pkgconfig_smoke.c "$build/app.c"
user env PKG_CONFIG_PATH="$lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$stage" sh -c \
  "cc -std=c99 -Wall -Wextra -Werror -o '$build/app-pkgconfig' '$build/app.c' \$(pkg-config --cflags --libs portreg)"
readelf -d "$build/app-pkgconfig" | sgrep -q "NEEDED.*\[libportreg.so.$MAJOR\]" || fail "app-pkgconfig does not need libportreg.so.$MAJOR"
user env LD_LIBRARY_PATH="$lib" "$build/app-pkgconfig" "$WORK/c-registry"
cat > "$build/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.16)
project(portreg_app C)
find_package(portreg 99 QUIET)
if(portreg_FOUND)
  message(FATAL_ERROR "find_package(portreg 99) accepted portreg ${portreg_VERSION}")
endif()
find_package(portreg 0.1 REQUIRED)
message(STATUS "portreg ${portreg_VERSION} from ${portreg_DIR}")
add_executable(app-cmake app.c)
target_link_libraries(app-cmake PRIVATE portreg::portreg)
add_executable(app-cmake-static app.c)
target_link_libraries(app-cmake-static PRIVATE portreg::static)
EOF
user cmake -S "$build" -B "$build/cmake" -DCMAKE_PREFIX_PATH="$stage$prefix" -DCMAKE_BUILD_TYPE=Release >"$build/cmake.log" ||
  { cat "$build/cmake.log"; fail "cmake configure"; }
grep 'portreg [0-9]' "$build/cmake.log"
user cmake --build "$build/cmake" >"$build/build.log" || { cat "$build/build.log"; fail "cmake --build"; }
user "$build/cmake/app-cmake" "$WORK/c-registry"
user "$build/cmake/app-cmake-static" "$WORK/c-registry"
readelf -d "$build/cmake/app-cmake-static" | sgrep -q libportreg && fail "app-cmake-static needs libportreg.so"
for f in share/doc/portreg/LICENSE-MIT share/doc/portreg/LICENSE-APACHE include/portreg.h lib/libportreg.a \
         lib/cmake/portreg/portregConfigVersion.cmake; do
  [ -f "$stage$prefix/$f" ] || fail "$prefix/$f not installed"
done
checked "$(basename "$ctar"): install.sh with DESTDIR+PREFIX, SONAME libportreg.so.$MAJOR ($glibc at most), programs built with pkg-config and CMake find_package (shared and static), run"

# --------------------------------------------------------------------- CLI ---
step "CLI: the static x86_64 binary, its completions and man page"
cli_tar="$(artifact "portreg-$VERSION-x86_64-linux-musl.tar.gz")"
user tar -C "$WORK" -xzf "$cli_tar"
cli="$WORK/portreg-$VERSION-x86_64-linux-musl"
file -b "$cli/portreg" | sgrep -Eq 'statically linked|static-pie linked' || fail "portreg is not static: $(file -b "$cli/portreg")"
readelf -d "$cli/portreg" | sgrep -q NEEDED && fail "the static portreg needs shared libraries"
echo "portreg: $(file -b "$cli/portreg" | cut -d, -f1-5)"
v="$(user "$cli/portreg" --version)"
[ "$v" = "portreg $VERSION" ] || fail "portreg --version says '$v'"
user "$cli/portreg" list --all
user "$cli/portreg" list --all | sgrep -Eq '^frontend ' || fail "the static CLI does not see the registry the wheel wrote"
out="$(user bash -c "source '$cli/completions/portreg.bash' && complete -p portreg")"
echo "bash: $out"
[[ "$out" == complete*portreg ]] || fail "the bash completion does not complete portreg"
grep -q '^#compdef portreg' "$cli/completions/_portreg" || fail "_portreg is not a zsh completion"
grep -q '^complete -c portreg' "$cli/completions/portreg.fish" || fail "portreg.fish is not a fish completion"
grep -q '^\.TH portreg 1' "$cli/man/portreg.1" || fail "portreg.1 is not a man page"
if command -v man >/dev/null; then
  user env MANPAGER=cat man -l "$cli/man/portreg.1" 2>/dev/null | head -n4
fi
for f in LICENSE-MIT LICENSE-APACHE README.md; do [ -f "$cli/$f" ] || fail "no $f in $(basename "$cli_tar")"; done
checked "$(basename "$cli_tar"): static (no NEEDED), --version, list, bash completion sourced + complete -p portreg, zsh/fish files, man page"

# ---------------------------------------------------------- other targets ---
step "aarch64 and musl artifacts: architecture, and the aarch64 CLI under qemu-aarch64"
unpack="$WORK/other"
mkdir -p "$unpack"
if whl="$(artifact "portreg-$VERSION-cp38-abi3-*manylinux_2_17_aarch64*.whl" 2>/dev/null)"; then
  (cd "$unpack" && unzip -q -o "$whl" 'portreg/_native*.so' -d whl-aarch64)
  arch "$(ls "$unpack"/whl-aarch64/portreg/_native*.so)" AArch64
  checked "$(basename "$whl"): _native.abi3.so is AArch64 (no aarch64 Python here to import it)"
else echo "SKIPPED aarch64 wheel: not in dist/"; fi
if whl="$(artifact "portreg-$VERSION-cp38-abi3-musllinux_1_2_x86_64*.whl" 2>/dev/null)"; then
  (cd "$unpack" && unzip -q -o "$whl" 'portreg/_native*.so' -d whl-musl)
  so="$(ls "$unpack"/whl-musl/portreg/_native*.so)"
  arch "$so" "Advanced Micro Devices X86-64"
  readelf -d "$so" | sgrep -q 'NEEDED.*libc.musl-x86_64.so.1' || fail "the musllinux wheel's module does not link musl"
  checked "$(basename "$whl"): _native.abi3.so is x86-64 linked to musl (no musl Python here to import it)"
else echo "SKIPPED musllinux wheel: not in dist/"; fi
for spec in linux-arm64-gnu:AArch64 "linux-x64-musl:Advanced Micro Devices X86-64"; do
  platform="${spec%%:*}"
  if tgz="$(artifact "portreg-$platform-$VERSION.tgz" 2>/dev/null)"; then
    mkdir -p "$unpack/$platform" && tar -C "$unpack/$platform" -xzf "$tgz"
    node_so="$unpack/$platform/package/portreg.$platform.node"
    arch "$node_so" "${spec#*:}"
    if [[ "$platform" == *musl ]]; then
      readelf -d "$node_so" | sgrep -q 'NEEDED.*libc.musl-x86_64.so.1' || fail "the $platform addon does not link musl"
    fi
    checked "$(basename "$tgz"): the .node is ${spec#*:}$([[ "$platform" != *musl ]] || echo ", linked to musl (no musl Node here to load it)")"
  else echo "SKIPPED npm $platform: not in dist/"; fi
done
if ctar="$(artifact "libportreg-$VERSION-aarch64-linux-gnu.tar.gz" 2>/dev/null)"; then
  tar -C "$unpack" -xzf "$ctar"
  so="$unpack/libportreg-$VERSION-aarch64-linux-gnu/lib/libportreg.so.$VERSION"
  arch "$so" AArch64
  readelf -d "$so" | sgrep -q "SONAME.*\[libportreg.so.$MAJOR\]" || fail "aarch64 libportreg has no SONAME libportreg.so.$MAJOR"
  checked "$(basename "$ctar"): libportreg.so is AArch64 with SONAME libportreg.so.$MAJOR"
else echo "SKIPPED aarch64 C tarball: not in dist/"; fi
if cli_tar="$(artifact "portreg-$VERSION-aarch64-linux-musl.tar.gz" 2>/dev/null)"; then
  tar -C "$unpack" -xzf "$cli_tar"
  bin="$unpack/portreg-$VERSION-aarch64-linux-musl/portreg"
  arch "$bin" AArch64
  readelf -d "$bin" | sgrep -q NEEDED && fail "the aarch64 portreg needs shared libraries"
  qemu="$(command -v qemu-aarch64-static)"
  v="$(user "$qemu" "$bin" --version)"
  [ "$v" = "portreg $VERSION" ] || fail "aarch64 portreg --version says '$v'"
  user "$qemu" "$bin" list --all | sgrep -Eq '^frontend ' || fail "the aarch64 CLI under qemu does not list frontend"
  echo "qemu-aarch64 portreg --version: $v; list sees the registry"
  checked "$(basename "$cli_tar"): static AArch64, --version and list under qemu-aarch64-static"
else echo "SKIPPED aarch64 CLI: not in dist/"; fi

step "checked ($((SECONDS / 60)) min $((SECONDS % 60)) s)"
printf '  %s\n' "${CHECKED[@]}"
