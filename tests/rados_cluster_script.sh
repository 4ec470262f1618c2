#!/usr/bin/env bash
# tests/cluster/cluster.sh itself (docs/testing-rados.md), on clusters of its own beside the
# CTest fixture's (so also: two clusters at once do not collide): start/status/stop, I/O through
# the written ceph.conf, kill-osd and start-osd, a stop of a half-started cluster, a start over a
# leftover cluster, and that it never touches a directory that is not its own. Skips (77) without
# Ceph, fails under CI=true (cluster.sh's own rule).
set -uo pipefail
root=$2
cl=$root/tests/cluster/cluster.sh
tmp=$(mktemp -d /tmp/javm-rcl.XXXXXX)
cleanup() { for d in "$tmp"/c "$tmp"/h "$tmp"/l; do bash "$cl" stop "$d" >/dev/null 2>&1; done; rm -rf "$tmp"; }
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# procs DIR: how many processes run with DIR's configuration
procs() { local n=0 p; for p in /proc/[0-9]*; do
  { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF -- "-c $1/ceph.conf " && n=$((n + 1)); done; echo $n; }

# a directory that is not a cluster's is never started over nor removed
mkdir -p "$tmp/foreign" && echo keep >"$tmp/foreign/file"
bash "$cl" start "$tmp/foreign" >"$tmp/out" 2>&1; rc=$?
[ $rc -eq 77 ] && { echo "skipped: $(cat "$tmp/out")"; exit 77; }
[ $rc -ne 0 ] && ok || bad "start over a foreign directory succeeded"
bash "$cl" stop "$tmp/foreign" >/dev/null 2>&1 && bad "stop of a foreign directory succeeded" || ok
[ -f "$tmp/foreign/file" ] && ok || bad "the foreign directory was touched"

# start, status, I/O, kill-osd, start-osd, stop
if bash "$cl" start "$tmp/c" >"$tmp/out" 2>&1; then ok; else bad "start"; cat "$tmp/out"; fi
grep -q "writable in" "$tmp/out" && ok || bad "start prints no time"
bash "$cl" status "$tmp/c" >/dev/null 2>&1 && ok || bad "status of a running cluster"
[ "$(procs "$tmp/c")" -eq 5 ] && ok || bad "$(procs "$tmp/c") daemons run (want 5)"
echo hello >"$tmp/obj"
r() { timeout 60 rados -c "$tmp/c/ceph.conf" -p javm -N rados_cluster_sh "$@"; }
r put o "$tmp/obj" && r get o "$tmp/got" && cmp -s "$tmp/obj" "$tmp/got" && ok || bad "put/get"
bash "$cl" kill-osd "$tmp/c" 1 >/dev/null 2>&1 && ok || bad "kill-osd"
bash "$cl" status "$tmp/c" >"$tmp/st" 2>&1 && bad "status with osd.1 killed says all run" || ok
grep -q "osd.1: not running" "$tmp/st" && ok || bad "status does not name the killed OSD"
r put o2 "$tmp/obj" && ok || bad "put with one OSD down"
bash "$cl" start-osd "$tmp/c" 1 >/dev/null 2>&1 && ok || bad "start-osd"
bash "$cl" status "$tmp/c" >/dev/null 2>&1 && ok || bad "status after start-osd"
bash "$cl" stop "$tmp/c" >/dev/null 2>&1 && ok || bad "stop"
[ "$(procs "$tmp/c")" -eq 0 ] && ok || bad "daemons left after stop"
[ -e "$tmp/c" ] && bad "stop left the directory" || ok

# a start interrupted once the mon runs, then stop: nothing left
bash "$cl" start "$tmp/h" >/dev/null 2>&1 &
starter=$!
for ((i = 0; i < 300; i++)); do [ -s "$tmp/h/pid/mon.a.pid" ] && break; sleep 0.05; done
kill -9 $starter 2>/dev/null; wait $starter 2>/dev/null
[ "$(procs "$tmp/h")" -ge 1 ] && ok || bad "no mon ran in the half-started cluster"
bash "$cl" stop "$tmp/h" >/dev/null 2>&1 && ok || bad "stop of a half-started cluster"
sleep 0.5 # a launch the killed starter had under way
[ "$(procs "$tmp/h")" -eq 0 ] && ok || bad "daemons left after stopping a half-started cluster"

# a start over a leftover cluster replaces it
bash "$cl" start "$tmp/l" >/dev/null 2>&1 && ok || bad "start l"
old=$(cat "$tmp/l/pid/mon.a.pid")
bash "$cl" start "$tmp/l" >/dev/null 2>&1 && ok || bad "start over a leftover"
[ "$(cat "$tmp/l/pid/mon.a.pid")" != "$old" ] && ok || bad "the leftover mon still runs"
[ "$(procs "$tmp/l")" -eq 5 ] && ok || bad "$(procs "$tmp/l") daemons after restart over a leftover (want 5)"
bash "$cl" stop "$tmp/l" >/dev/null 2>&1 && [ "$(procs "$tmp/l")" -eq 0 ] && ok || bad "stop l"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
