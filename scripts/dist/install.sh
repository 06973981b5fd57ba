#!/bin/sh
# Installs this libportreg @VERSION@ (@TRIPLE@) under PREFIX (default
# /usr/local), staged under DESTDIR when set (packaging):
#   ./install.sh                               # /usr/local
#   PREFIX=$HOME/.local ./install.sh
#   DESTDIR=/tmp/stage PREFIX=/usr ./install.sh
# Installs lib/libportreg.so.@VERSION@ (SONAME libportreg.so.@MAJOR@) and its
# symlinks, lib/libportreg.a, include/portreg.h, lib/pkgconfig/portreg.pc and
# lib/cmake/portreg/ (find_package(portreg)). No compiler or cargo needed.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
prefix="${PREFIX:-/usr/local}"
case "$prefix" in /*) ;; *) echo "PREFIX must be an absolute path, not '$prefix'" >&2; exit 2 ;; esac
root="${DESTDIR:-}$prefix"
install -d "$root/lib/pkgconfig" "$root/lib/cmake/portreg" "$root/include" "$root/share/doc/portreg"
install -m 0755 "$here/lib/libportreg.so.@VERSION@" "$root/lib/libportreg.so.@VERSION@"
ln -sfn "libportreg.so.@VERSION@" "$root/lib/libportreg.so.@MAJOR@"
ln -sfn "libportreg.so.@MAJOR@" "$root/lib/libportreg.so"
install -m 0644 "$here/lib/libportreg.a" "$root/lib/libportreg.a"
install -m 0644 "$here/include/portreg.h" "$root/include/portreg.h"
sed "s|@PREFIX@|$prefix|g" "$here/lib/pkgconfig/portreg.pc.in" > "$root/lib/pkgconfig/portreg.pc"
chmod 0644 "$root/lib/pkgconfig/portreg.pc"
install -m 0644 "$here/lib/cmake/portreg/portregConfig.cmake" "$here/lib/cmake/portreg/portregConfigVersion.cmake" \
  "$root/lib/cmake/portreg/"
install -m 0644 "$here/LICENSE-MIT" "$here/LICENSE-APACHE" "$here/README.md" "$root/share/doc/portreg/"
echo "installed libportreg @VERSION@ under ${DESTDIR:+$DESTDIR}$prefix"
