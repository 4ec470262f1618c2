#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, then two outside consumers built against what was
# installed: one with `pkg-config --cflags --libs javm`, one with find_package(javm) (shared
# and static). Both run and must print fib(90) with matching header and library versions.
# Also checks the installed layout (SONAME links, headers, guest SDK, man pages).
set -uo pipefail
javm=$1 root=$2
build=$(cd "$(dirname "$javm")" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
p=$tmp/prefix
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
# A sanitizer build's library needs its consumers built with the same runtime.
san=$(grep -q '^JAVM_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" && echo "-fsanitize=address,undefined" || true)
if cmake --install "$build" --prefix "$p" > "$tmp/install.log" 2>&1; then ok; else bad "cmake --install"; cat "$tmp/install.log"; fi
libdir=$(dirname "$(find "$p" -name libjavm.a | head -1)")
ver=$("$javm" --version | awk '{print $2}')
for f in "$p/bin/javm" "$libdir/libjavm.a" "$libdir/libjavm.so.$ver" "$p/include/javm.h" \
         "$p/include/javm/version.h" "$libdir/pkgconfig/javm.pc" "$libdir/pkgconfig/libjavm.pc" \
         "$libdir/cmake/javm/javmConfig.cmake" "$libdir/cmake/javm/javmConfigVersion.cmake" \
         "$p/share/javm/guest/include/javm_guest.h" "$p/share/javm/guest/javm.ld" \
         "$p/share/javm/guest/build.sh" "$p/share/javm/bench-programs/fib.bin" \
         "$p/share/man/man1/javm.1" "$p/share/man/man1/javm-invoke.1"; do
  [ -f "$f" ] && ok || bad "not installed: ${f#$p/}"
done
[ "$(readlink "$libdir/libjavm.so")" = "libjavm.so.${ver%%.*}" ] && ok || bad "libjavm.so link"
[ "$(readlink "$libdir/libjavm.so.${ver%%.*}")" = "libjavm.so.$ver" ] && ok || bad "libjavm.so.${ver%%.*} link"
[ "$("$p/bin/javm" --version)" = "javm $ver" ] && ok || bad "installed javm --version"
# the installed command finds the installed benchmark programs beside itself
(unset JAVM_BENCH_PROGRAMS; "$p/bin/javm" bench --runs 1 --invocations 10) > "$tmp/bench" 2>&1 \
  && grep -qF "== exec layer ($p/bin/../share/javm/bench-programs)" "$tmp/bench" && grep -q '^fib' "$tmp/bench" \
  && ok || { bad "installed javm bench"; cat "$tmp/bench"; }

# consumer 1: pkg-config
export PKG_CONFIG_PATH=$libdir/pkgconfig
[ "$(pkg-config --modversion javm)" = "$ver" ] && ok || bad "pkg-config --modversion javm"
if cc $san -std=c11 -Wall -Werror "$root/tests/consumer/app.c" $(pkg-config --cflags --libs javm) \
     -o "$tmp/app_pc" 2> "$tmp/cc.log"; then ok; else bad "pkg-config consumer build"; cat "$tmp/cc.log"; fi
if LD_LIBRARY_PATH=$libdir "$tmp/app_pc" > "$tmp/out" 2>&1 && grep -q "fib(90) = 2880067194370816120" "$tmp/out"; then
  ok; else bad "pkg-config consumer run"; cat "$tmp/out"; fi
[ "$(readelf -d "$tmp/app_pc" | sed -n 's/.*(NEEDED).*\[\(libjavm[^]]*\)\]/\1/p')" = "libjavm.so.${ver%%.*}" ] \
  && ok || bad "pkg-config consumer does not need libjavm.so.${ver%%.*}"

# consumer 2: find_package(javm), against the shared and the static library
if cmake -S "$root/tests/consumer" -B "$tmp/cb" -G Ninja -DCMAKE_PREFIX_PATH="$p" \
     -DCMAKE_C_FLAGS="$san" -DCMAKE_EXE_LINKER_FLAGS="$san" > "$tmp/cm.log" 2>&1 \
   && cmake --build "$tmp/cb" >> "$tmp/cm.log" 2>&1; then ok; else bad "find_package consumer build"; cat "$tmp/cm.log"; fi
for a in app_shared app_static; do
  if "$tmp/cb/$a" > "$tmp/out" 2>&1 && grep -q "fib(90) = 2880067194370816120" "$tmp/out"; then
    ok; else bad "find_package consumer $a"; cat "$tmp/out"; fi
done
# the Python package, installed beside the library, finds it without JAVM_LIBRARY
site=$(dirname "$(find "$p" -path '*/site-packages/javm/__init__.py' | head -1)")
py=/usr/bin/python3; [ -x $py ] || py=python3
if [ -z "$san" ]; then
  [ -f "$site/_paths.py" ] && ok || bad "javm Python package not installed"
  (cd "$tmp" && unset JAVM_LIBRARY && PYTHONPATH=$(dirname "$site") $py -c \
     "import javm, sys; sys.exit(0 if javm.version() == '$ver' and '$p' in javm.__file__ else 1)") \
    && ok || bad "installed Python package"
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
