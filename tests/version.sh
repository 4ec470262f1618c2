#!/usr/bin/env bash
# The version as a user meets it: `javm --version`, the SONAME of libjavm.so (the ABI major)
# with its symlinks, and a CHANGELOG.md entry for the version in include/javm/version.h.
set -uo pipefail
javm=$1 root=$2
dir=$(dirname "$javm")
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL $1"; fi; }
num() { sed -n "s/^#define JAVM_VERSION_$1 \([0-9]*\)$/\1/p" "$root/include/javm/version.h"; }
ver="$(num MAJOR).$(num MINOR).$(num PATCH)"
echo "header version: $ver"
check "version read from the header" '[[ "$ver" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]'
check "javm --version prints 'javm $ver'" '[ "$("$javm" --version)" = "javm $ver" ]'
check "javm --help mentions --version" '"$javm" --help | grep -q -- "--version"'
soname=$(readelf -d "$dir/libjavm.so" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
check "SONAME is libjavm.so.$(num MAJOR) (got '$soname')" '[ "$soname" = "libjavm.so.$(num MAJOR)" ]'
check "libjavm.so.$(num MAJOR) -> libjavm.so.$ver" '[ "$(readlink "$dir/libjavm.so.$(num MAJOR)")" = "libjavm.so.$ver" ]'
check "libjavm.so.$ver is a file" '[ -f "$dir/libjavm.so.$ver" ] && [ ! -L "$dir/libjavm.so.$ver" ]'
check "CHANGELOG.md has a section for $ver" 'grep -qE "^## \[?$ver\]?" "$root/CHANGELOG.md"'
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
