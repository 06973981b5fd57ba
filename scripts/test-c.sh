#!/usr/bin/env bash
# C ABI: the C tests, built as C99 and as C++ against both libportreg.so and
# libportreg.a, pass natively and under valgrind (zero errors, zero leaks),
# and the library installs and builds through pkg-config. (The header's drift
# check and the C example server's test are Rust tests in ffi/tests, run by
# `make test-rust` or `cargo test -p portreg-ffi`.)
source "$(dirname "$0")/common.sh"

LIB="$TARGET_DIR/debug"
CLI="$LIB/portreg"
BUILD="$TARGET_DIR/c-tests"
WARN=(-Wall -Wextra -Wpedantic -Werror)
VALGRIND=(valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=1)

work="$(mktemp -d "${TMPDIR:-/tmp}/portreg-test-c.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# Nothing here may touch ~/.portreg, and ports stay in 23000-23999.
export PORTREG_HOME="$work/home"
export PORTREG_RANGE="23000-23999"
export TMPDIR="$work"
mkdir -p "$BUILD"

fail() { echo "FAIL: $*" >&2; exit 1; }

step "tools"
need_apt valgrind valgrind
need_apt pkg-config pkg-config
missing=()
for tool in cc g++ valgrind python3; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] || fail "missing ${missing[*]}; install them (Debian: apt-get install -y build-essential valgrind python3)"
echo "$(cc --version | head -1); $(g++ --version | head -1); $(valgrind --version); pkg-config $(pkg-config --version)"

step "build libportreg and the portreg CLI"
cargo build -p portreg-ffi -p portreg-cli
ls -l "$LIB/libportreg.so" "$LIB/libportreg.a" | awk '{print $5, $9}'

version="$(python3 -c 'import tomllib; print(tomllib.load(open("Cargo.toml", "rb"))["workspace"]["package"]["version"])')"
echo "Cargo.toml workspace version: $version"

step "compile the C tests: C99 and C++, shared and static"
tests=(test_api test_errors test_concurrent)
binaries=()
for t in "${tests[@]}"; do
  for lang in c cxx; do
    if [ "$lang" = c ]; then compile=(cc -std=c99); else compile=(g++ -x c++ -std=c++11); fi
    # `-x none` ends `-x c++`, which would otherwise take libportreg.a for C++ source.
    "${compile[@]}" "${WARN[@]}" -pthread -Iinclude "tests/c/$t.c" -x none -o "$BUILD/$t-$lang-shared" \
      -L"$LIB" -lportreg -Wl,-rpath,"$LIB"
    "${compile[@]}" "${WARN[@]}" -pthread -Iinclude "tests/c/$t.c" -x none -o "$BUILD/$t-$lang-static" \
      "$LIB/libportreg.a" -lpthread -ldl -lm
    binaries+=("$t-$lang-shared" "$t-$lang-static")
  done
done
# The static binaries really carry the library; the shared ones load it.
static_deps="$(ldd "$BUILD/test_api-c-static")"
shared_deps="$(ldd "$BUILD/test_api-c-shared")"
[[ "$static_deps" != *libportreg* ]] || fail "test_api-c-static links libportreg.so"
[[ "$shared_deps" == *"$LIB/libportreg.so"* ]] || fail "test_api-c-shared does not load $LIB/libportreg.so"
echo "built ${#binaries[@]} binaries in $BUILD"

args_for() {
  case "$1" in
    test_api-*) echo "$CLI $version" ;;
    test_errors-*) echo "tests/error-cases.json" ;;
    test_concurrent-*) echo "$CLI" ;;
  esac
}

step "run the C tests"
for b in "${binaries[@]}"; do
  # shellcheck disable=SC2046
  "$BUILD/$b" $(args_for "$b") > "$work/$b.out" 2> "$work/$b.err" \
    || { cat "$work/$b.out" "$work/$b.err"; fail "$b"; }
  echo "$b: $(grep -h 'checks passed' "$work/$b.out")"
done
grep -h "cases of" "$work/test_errors-c-shared.out"
grep -h "distinct ports" "$work/test_concurrent-c-shared.out"

step "run the C tests under valgrind"
for b in "${binaries[@]}"; do
  log="$work/$b.valgrind"
  # shellcheck disable=SC2046
  if ! "${VALGRIND[@]}" --log-file="$log.%p" "$BUILD/$b" $(args_for "$b") > "$work/$b.vg.out" 2>&1; then
    cat "$work/$b.vg.out" "$log".*
    fail "$b under valgrind"
  fi
  # Forked children write their own logs (they exec before exiting); the test's is the one whose parent is this script.
  main_log="$(grep -l "Parent PID: $$\$" "$log".* | head -1)"
  [ -n "$main_log" ] || fail "$b: no valgrind log of the test process"
  errors="$(sed -n 's/.*ERROR SUMMARY: //p' "$main_log")"
  heap="$(sed -n 's/.*in use at exit: //p' "$main_log")"
  definite="$(sed -n 's/.*definitely lost: //p' "$main_log")"
  case "$errors" in "0 errors"*) ;; *) cat "$main_log"; fail "$b: valgrind reports $errors" ;; esac
  echo "$b: ERROR SUMMARY: $errors; in use at exit: $heap${definite:+; definitely lost: $definite}"
done

step "valgrind catches a leak (so the check above can fail)"
cc -std=c99 "${WARN[@]}" -Iinclude tests/c/valgrind_gate.c -o "$BUILD/valgrind_gate" \
  -L"$LIB" -lportreg -Wl,-rpath,"$LIB"
if "${VALGRIND[@]}" "$BUILD/valgrind_gate" "$work/gate" > "$work/gate.out" 2>&1; then
  cat "$work/gate.out"; fail "valgrind passed a program that leaks"
fi
grep -q "definitely lost" "$work/gate.out" || { cat "$work/gate.out"; fail "valgrind failed, but not on the leak"; }
echo "valgrind rejects valgrind_gate: $(grep -h 'definitely lost:' "$work/gate.out" | sed 's/^==[0-9]*== *//')"

step "install with scripts/install-c.sh, build with pkg-config"
prefix="$work/prefix"
PORTREG_PROFILE=debug scripts/install-c.sh "$prefix" > "$work/install.log" || { cat "$work/install.log"; fail "install-c.sh"; }
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
[ "$(pkg-config --modversion portreg)" = "$version" ] || fail "pkg-config --modversion portreg is not $version"
echo "pkg-config --cflags --libs portreg: $(pkg-config --cflags --libs portreg)"
# Exactly as documented, flags first; and the portable order, flags after the source.
# shellcheck disable=SC2046
cc $(pkg-config --cflags --libs portreg) tests/c/pkgconfig_smoke.c -o "$BUILD/pkgconfig_smoke"
# shellcheck disable=SC2046
cc -std=c99 "${WARN[@]}" tests/c/pkgconfig_smoke.c -o "$BUILD/pkgconfig_smoke2" $(pkg-config --cflags --libs portreg)
# Static: Libs.private supplies what libportreg.a needs (-l:libportreg.a picks the archive).
static_libs="$(pkg-config --static --libs portreg | sed 's/-lportreg\b/-l:libportreg.a/')"
# shellcheck disable=SC2086
cc -std=c99 "${WARN[@]}" tests/c/pkgconfig_smoke.c -o "$BUILD/pkgconfig_smoke_static" \
  $(pkg-config --cflags portreg) $static_libs
deps="$(LD_LIBRARY_PATH="$prefix/lib" ldd "$BUILD/pkgconfig_smoke")"
[[ "$deps" == *"$prefix/lib/libportreg.so"* ]] || fail "pkgconfig_smoke does not load the installed libportreg.so"
[[ "$(ldd "$BUILD/pkgconfig_smoke_static")" != *libportreg* ]] || fail "pkgconfig_smoke_static is not static"
LD_LIBRARY_PATH="$prefix/lib" "$BUILD/pkgconfig_smoke" "$work/pkg-registry"
LD_LIBRARY_PATH="$prefix/lib" "$BUILD/pkgconfig_smoke2" "$work/pkg-registry" > /dev/null
"$BUILD/pkgconfig_smoke_static" "$work/pkg-registry" > /dev/null

step "C suite passed"
