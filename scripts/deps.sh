#!/usr/bin/env bash
# Installs the Debian packages javm-c needs, and only those that are absent.
# Usage: scripts/deps.sh [base|guest|fuzz|bench|rados|all]   (default: base)
# base: build and every test (python3-pytest for the Python binding's tests, gnuplot for
# `make bench-report` and its test); guest/fuzz/bench: the clang-19 guest toolchain; rados:
# librados for the RADOS store and the Ceph daemons of the test cluster (docs/testing-rados.md).
set -euo pipefail
# libcapstone-dev: test-only (tests/test_jit_x86.c, --dump-native)
want=(cmake ninja-build pkg-config gcc libsodium-dev liblmdb-dev libjson-c-dev libcmocka-dev libcapstone-dev
      python3 python3-pytest python3-setuptools python3-pip python3-wheel gnuplot-nox)
case "${1:-base}" in
  base) ;;
  guest|fuzz|bench) want+=(clang-19 lld-19 llvm-19 libclang-rt-19-dev) ;;
  rados) want+=(ceph-mon ceph-mgr ceph-osd ceph-common librados-dev) ;;
  all) want+=(clang-19 lld-19 llvm-19 libclang-rt-19-dev ceph-mon ceph-mgr ceph-osd ceph-common librados-dev) ;;
  *) echo "usage: $0 [base|guest|fuzz|bench|rados|all]" >&2; exit 2 ;;
esac
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null || true
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
