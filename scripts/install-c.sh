#!/usr/bin/env bash
# Installs the C library under PREFIX: lib/libportreg.so.X.Y.Z (SONAME
# libportreg.so.X, with the libportreg.so.X and libportreg.so symlinks),
# lib/libportreg.a, include/portreg.h and lib/pkgconfig/portreg.pc.
#
#   scripts/install-c.sh PREFIX          release build (the default)
#   PORTREG_PROFILE=debug scripts/install-c.sh PREFIX
#
# Then: PKG_CONFIG_PATH=PREFIX/lib/pkgconfig cc app.c $(pkg-config --cflags --libs portreg)
source "$(dirname "$0")/common.sh"

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: scripts/install-c.sh PREFIX   (e.g. /usr/local or \$HOME/.local)" >&2
  exit 2
fi
mkdir -p "$1"
prefix="$(cd "$1" && pwd)"
profile="${PORTREG_PROFILE:-release}"

case "$profile" in
  release) cargo build --release -p portreg-ffi ;;
  debug) cargo build -p portreg-ffi ;;
  *) echo "PORTREG_PROFILE must be release or debug, not '$profile'" >&2; exit 2 ;;
esac
lib="$TARGET_DIR/$profile"

# The committed header (`make header` regenerates it), and the version it declares.
version="$(sed -n 's/^#define PORTREG_VERSION "\(.*\)"$/\1/p' include/portreg.h)"
if [ -z "$version" ]; then
  echo "include/portreg.h has no PORTREG_VERSION; regenerate it with: make header" >&2
  exit 1
fi

install -d "$prefix/lib/pkgconfig" "$prefix/include"
install -m 0755 "$lib/libportreg.so" "$prefix/lib/libportreg.so.$version"
ln -sfn "libportreg.so.$version" "$prefix/lib/libportreg.so.${version%%.*}"
ln -sfn "libportreg.so.${version%%.*}" "$prefix/lib/libportreg.so"
install -m 0644 "$lib/libportreg.a" "$prefix/lib/libportreg.a"
install -m 0644 include/portreg.h "$prefix/include/portreg.h"
sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" ffi/portreg.pc.in \
  > "$prefix/lib/pkgconfig/portreg.pc"
chmod 0644 "$prefix/lib/pkgconfig/portreg.pc"

echo "installed libportreg $version ($profile) under $prefix:"
echo "  $prefix/lib/libportreg.so -> libportreg.so.${version%%.*} -> libportreg.so.$version"
echo "  $prefix/lib/libportreg.a"
echo "  $prefix/include/portreg.h"
echo "  $prefix/lib/pkgconfig/portreg.pc"
echo "build with: PKG_CONFIG_PATH=$prefix/lib/pkgconfig cc app.c \$(pkg-config --cflags --libs portreg)"
case ":${LD_LIBRARY_PATH:-}:" in
  *":$prefix/lib:"*) ;;
  *) if ! ldconfig -p 2>/dev/null | grep -q "$prefix/lib/libportreg.so"; then
       echo "run with: LD_LIBRARY_PATH=$prefix/lib ./app   (or add -Wl,-rpath,$prefix/lib; as root after a system prefix: ldconfig)"
     fi ;;
esac
