#!/usr/bin/env bash
# Faults on the RADOS store (docs/scale-out.md §6 and §7, issue 16), on the fixture's cluster
# (it runs alone: SERIAL), in three phases:
#  1. 30 clients killed in their commit (javm's test hook, tools/testhook.c: after a blob
#     write, before the head op, microseconds after it, after the commit; half killed by the
#     hook, half stopped by it and kill -9ed from here): after each, fsck is clean and the name
#     is at the old state or the new one (which one the kill point allows); then two gc runs
#     reclaim the orphans and leave nothing unreachable;
#  2. three clients invoke their own counter in a loop while one OSD is kill -9ed (and started
#     again 7 s later): work goes on, every success a client logged is there, fsck is clean;
#  3. two OSDs stopped (below min_size 2): a fresh invoke and one held in its commit end with
#     exit 3 and "timed out" within the timeout (twice for the held one: its head op, then the
#     seal) and a few seconds; after the OSDs are back, fsck is clean and the name is at one of
#     the two states.
# The pool is waited for until every PG is active+clean between phases. Figures (stalls,
# successes, orphans, the timeout messages) are printed. Skipped (77) without a cluster, except
# in CI.
set -euo pipefail
javm=$1
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${JAVM_TEST_RADOS_CONF:-}" ] || [ -z "${JAVM_TEST_RADOS_CLUSTER:-}" ]; then
  [ -n "${CI:-}" ] && { echo "FAIL: CI without the test cluster"; exit 1; }
  echo "skipped: no test cluster (JAVM_TEST_RADOS_CONF / JAVM_TEST_RADOS_CLUSTER unset)"; exit 77
fi
export CEPH_CONF=$JAVM_TEST_RADOS_CONF
cluster=$JAVM_TEST_RADOS_CLUSTER
ns=faults-$$-$(date +%s)
store="rados://javm/$ns"
short=${JAVM_FAULTS_TIMEOUT:-5}   # phase 3's client op timeout, seconds
. "$here/support/counter_image.sh"

tmp=$(mktemp -d)
pids=()     # every background process this script started, stopped on exit
downed=()   # OSDs this script took down and has not started again
cleanup() {
  local p o
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  # the fixture's cluster is left whole for the tests after this one
  for o in "${downed[@]}"; do bash "$here/cluster/cluster.sh" start-osd "$cluster" "$o" >/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else echo "FAIL: $1"; fail=$((fail + 1)); fi; }
now() { echo "$EPOCHREALTIME"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b - a}'; }
cl() { bash "$here/cluster/cluster.sh" "$1" "$cluster" "${@:2}"; }
osd_up() { local o=$1 i; for i in "${!downed[@]}"; do [ "${downed[i]}" != "$o" ] || unset 'downed[i]'; done; }
value() { sed -n 's/^return: //p' "$1"; }
objects() { timeout 60 rados -p javm -N "$ns" ls | sort; }

# wait_clean LIMIT: until every PG of the pool is active+clean and all 3 OSDs are up (at most
# LIMIT s); prints the seconds it took
wait_clean() {
  local t0 s o
  t0=$(now)
  while :; do
    o=$(timeout 20 ceph osd stat 2>/dev/null || true)
    s=$(timeout 20 ceph pg stat 2>/dev/null || true)
    if [[ "$o" == *"3 osds: 3 up"*"3 in"* && "$s" =~ ^([0-9]+)\ pgs:\ ([0-9]+)\ active\+clean\; ]] &&
       [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]; then
      secs "$t0" "$(now)"; return 0
    fi
    if awk -v a="$t0" -v b="$(now)" -v l="$1" 'BEGIN{exit !(b - a > l)}'; then
      echo "not clean after $1 s: $o / $s" >&2; return 1
    fi
    sleep 0.5
  done
}

# state_of PID: the process's state letter (R, S, T, ...), empty once it is gone
state_of() { local st; { read -r st </proc/"$1"/stat; } 2>/dev/null || return 0; st=${st##*) }; echo "${st%% *}"; }

# killed_run OUT ERR VAR=VALUE... -- ARGS...: runs javm with the environment given, waits for
# it; prints its exit status (137 when SIGKILLed). A process the hook stopped (SIGSTOP) is
# kill -9ed from here.
killed_run() {
  local out=$1 err=$2 envs=() p i st rc=0
  shift 2
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  env "${envs[@]}" "$javm" "$@" >"$out" 2>"$err" &
  p=$!; pids+=("$p")
  for ((i = 0; i < 3000; i++)); do
    st=$(state_of "$p")
    [ "$st" = T ] && { kill -KILL "$p"; break; }
    [ -z "$st" ] || [ "$st" = Z ] && break
    sleep 0.01
  done
  wait "$p" 2>/dev/null || rc=$?
  echo "$rc"
}

counter_image "$tmp/one.jimg" 1
one=$("$javm" put "$tmp/one.jimg" --store "$store")
# the hook refuses what it does not know (exit 2), before any store work
for bad in JAVM_TEST_KILL_AT=blob:0 JAVM_TEST_KILL_AT=commit+x JAVM_TEST_STOP_AT=later; do
  rc=0; env "$bad" "$javm" ls --store "$store" >/dev/null 2>"$tmp/hook.err" || rc=$?
  check "$bad refused (exit $rc)" '[ $rc -eq 2 ] && grep -q "expected blob:N" "$tmp/hook.err"'
done
rc=0; JAVM_TEST_KILL_AT=commit JAVM_TEST_STOP_AT=commit "$javm" ls --store "$store" >/dev/null 2>&1 || rc=$?
check "both hook variables refused (exit $rc)" '[ $rc -eq 2 ]'

for n in c1 c2 c3 k t; do "$javm" spawn "$one" --name "$n" --store "$store" >/dev/null; done
echo "store $store; pool: $(wait_clean 60) s to clean"

# ---- 1. 30 clients killed in their commit -----------------------------------------------------
# First, in a fresh namespace: every state k reaches is new, so each killed invoke writes its
# three blobs (input, memory page, instance) itself; a state another name had reached before
# would be deduplicated by the cache and never reach the store's put (blob:2 would not fire).
# Each killed invoke gets a random input (slot 0 of its post-instance), so whatever it wrote
# before dying is garbage no later commit writes again: orphans for gc.
points=(blob:1 blob:2 blob:3 commit commit+R committed commit+R commit+R)
"$javm" invoke k --store "$store" >"$tmp/k.out"
cur=$(value "$tmp/k.out")
old=0 new=0 hookkills=0 outkills=0
for ((i = 0; i < 30; i++)); do
  p=${points[i % ${#points[@]}]}
  [ "$p" = commit+R ] && p=commit+$((RANDOM % 400))
  how=JAVM_TEST_KILL_AT; [ $((i % 2)) -eq 1 ] && how=JAVM_TEST_STOP_AT
  head -c 64 /dev/urandom >"$tmp/in"
  objects >"$tmp/before"
  rc=$(killed_run "$tmp/kill.out" "$tmp/kill.err" "$how=$p" -- invoke k --store "$store" --input "$tmp/in")
  pids=()
  if [ "$rc" = 137 ]; then [ $how = JAVM_TEST_KILL_AT ] && hookkills=$((hookkills + 1)) || outkills=$((outkills + 1)); fi
  check "kill $i ($how=$p) killed the client (exit $rc)" '[ "$rc" = 137 ] || { cat "$tmp/kill.out" "$tmp/kill.err"; false; }'
  objects | comm -13 "$tmp/before" - >>"$tmp/written"   # what the killed client left
  frc=0; "$javm" fsck --store "$store" >"$tmp/fsck" 2>&1 || frc=$?
  check "kill $i ($p): fsck clean (exit $frc)" '[ $frc -eq 0 ] || { cat "$tmp/fsck"; false; }'
  "$javm" invoke k --store "$store" >"$tmp/k.out" 2>"$tmp/k.err" || cat "$tmp/k.err"
  at=$(( $(value "$tmp/k.out") - 1 ))
  case $p in
    blob:*|commit) want=old ;;
    committed) want=new ;;
    *) want=either ;;
  esac
  if [ "$at" = "$cur" ]; then got=old; old=$((old + 1)); elif [ "$at" = $((cur + 1)) ]; then got=new; new=$((new + 1)); else got="neither ($at, was $cur)"; fi
  check "kill $i ($p): the name is at the $want state (it is at the $got one)" \
    '[ "$got" = "$want" ] || { [ "$want" = either ] && [[ "$got" = old || "$got" = new ]]; }'
  cur=$(value "$tmp/k.out")
done
echo "phase 1: 30 kills ($hookkills by the hook, $outkills stopped by it and kill -9ed from here): the name at the old state $old times, at the new $new times"
unreach0=$("$javm" fsck --store "$store" 2>&1 | tail -1 || true)
gcs=()
for g in 1 2; do
  grc=0; "$javm" gc --store "$store" --grace 0 --json >"$tmp/gc$g" 2>&1 || grc=$?
  check "gc run $g (exit $grc)" '[ $grc -eq 0 ] || { cat "$tmp/gc$g"; false; }'
  gcs+=("$(sed -n 's/.*"deleted":\([0-9]*\).*/\1/p' "$tmp/gc$g")")
done
frc=0; "$javm" fsck --store "$store" >"$tmp/fsck" 2>&1 || frc=$?
objects >"$tmp/after"
touch "$tmp/written"
w=$(sort -u "$tmp/written" | wc -l)
left=$(sort -u "$tmp/written" | comm -12 - "$tmp/after" | wc -l)
echo "phase 1: fsck before gc: $unreach0; gc deleted ${gcs[0]:-?} then ${gcs[1]:-?} blobs; fsck: $(tail -1 "$tmp/fsck")"
echo "phase 1: the killed clients left $w objects; gc removed $((w - left)), the $left left are reachable (written again by later commits)"
# every kill before the head op left at least its input, which no commit names: an orphan
check "gc reclaimed the orphans ($((w - left)) of the killed clients' $w objects, >= $old kills left nothing committed)" \
  '[ $((w - left)) -ge "$old" ] && [ "$old" -gt 0 ]'
check "nothing unreachable is left, fsck clean (exit $frc)" '[ $frc -eq 0 ] && grep -q "(0 blobs unreachable" "$tmp/fsck"'
"$javm" invoke k --store "$store" >"$tmp/k.out" || true
check "k goes on after gc ($(value "$tmp/k.out") = $cur + 1)" '[ "$(value "$tmp/k.out")" = $((cur + 1)) ]'
echo "phase 1: clean $(wait_clean 60) s"

# ---- 2. one OSD kill -9ed while three clients invoke ------------------------------------------
p1=${JAVM_FAULTS_P1_SECONDS:-24}
t_start=$(now)
client() { # NAME: invoke until told to stop; log "start end value" of each success, each failure
  local n=$1 a b
  while [ ! -e "$tmp/stop" ]; do
    a=$(now)
    if "$javm" invoke "$n" --store "$store" >"$tmp/$n.out" 2>"$tmp/$n.err"; then
      b=$(now); echo "$a $b $(value "$tmp/$n.out")" >>"$tmp/$n.log"
    else
      b=$(now); echo "$a $b $(head -c 300 "$tmp/$n.err" | tr '\n' ' ')" >>"$tmp/$n.fail"
    fi
  done
}
# begun_after T: the fewest successes any client began after T
begun_after() {
  local n m=999999 c
  for n in c1 c2 c3; do
    c=$(awk '$1 > t' t="$1" "$tmp/$n.log" 2>/dev/null | wc -l)
    [ "$c" -ge "$m" ] || m=$c
  done
  echo "$m"
}
for n in c1 c2 c3; do client "$n" & pids+=("$!"); done
victim=$((RANDOM % 3))
sleep 5
t_kill=$(now)
cl kill-osd "$victim" >/dev/null
downed+=("$victim")
t_killed=$(now)
sleep 7
t_restart=$(now)
cl start-osd "$victim" >/dev/null
osd_up "$victim"
t_up=$(now)
# the run lasts p1 s, longer on a slow machine (ASan, load): until every client has two
# successes begun 10 s after the kill, at most 180 s
t10=$(awk -v t="$t_kill" 'BEGIN{printf "%.6f", t + 10}')
while :; do
  el=$(secs "$t_start" "$(now)")
  awk -v e="$el" -v p="$p1" 'BEGIN{exit !(e < p)}' && { sleep 0.5; continue; }
  [ "$(begun_after "$t10")" -ge 2 ] && break
  awk -v e="$el" 'BEGIN{exit !(e >= 180)}' && break
  sleep 0.5
done
touch "$tmp/stop"
for p in "${pids[@]}"; do wait "$p"; done
pids=()
echo "phase 2: osd.$victim kill -9 at $(secs "$t_start" "$t_kill") s (marked down in $(secs "$t_kill" "$t_killed") s)," \
     "started again at $(secs "$t_start" "$t_restart") s (up in $(secs "$t_restart" "$t_up") s), run $(secs "$t_start" "$(now)") s"
for n in c1 c2 c3; do
  touch "$tmp/$n.log" "$tmp/$n.fail"
  ok=$(wc -l <"$tmp/$n.log"); nf=$(wc -l <"$tmp/$n.fail")
  distinct=$(cut -d' ' -f3 "$tmp/$n.log" | sort -un | wc -l)
  top=$(cut -d' ' -f3 "$tmp/$n.log" | sort -n | tail -1)
  # the longest invoke, the one in flight at the kill, the last success's start (work goes on)
  longest=$(awk '{d = $2 - $1; if (d > m) {m = d; s = $1}} END {printf "%.2f s (began at %+.2f s of the kill)", m, s - k}' k="$t_kill" "$tmp/$n.log")
  atkill=$(awk '$1 <= k && $2 >= k {printf "%.2f", $2 - $1}' k="$t_kill" "$tmp/$n.log")
  atup=$(awk '$1 <= u && $2 >= u {printf "%.2f", $2 - $1}' u="$t_restart" "$tmp/$n.log")
  median=$(awk '{print $2 - $1}' "$tmp/$n.log" | sort -n | awk '{a[NR] = $1} END {printf "%.3f", a[int((NR + 1) / 2)]}')
  after=$(awk '$1 > k + 10' k="$t_kill" "$tmp/$n.log" | wc -l)
  echo "  $n: $ok successes, $nf failures; median invoke $median s; in flight at the kill: ${atkill:-none} s;" \
       "at the restart: ${atup:-none} s; longest $longest; $after successes begun 10 s after the kill"
  [ "$nf" -eq 0 ] || sed 's/^/    failure: /' "$tmp/$n.fail"
  check "$n: no failure ($nf)" '[ "$nf" -eq 0 ]'
  check "$n: work went on after the kill ($after successes begun 10+ s after it)" '[ "$after" -gt 0 ]'
  check "$n: every value distinct, the last one the count ($distinct, ${top:-none}, $ok)" \
    '[ "$ok" -gt 0 ] && [ "$distinct" -eq "$ok" ] && [ "${top:-0}" -eq "$ok" ]'
done
t0=$(now)
rc=0; "$javm" fsck --store "$store" >"$tmp/fsck" 2>&1 || rc=$?
check "phase 2: fsck clean (exit $rc)" '[ $rc -eq 0 ] || { cat "$tmp/fsck"; false; }'
for n in c1 c2 c3; do
  "$javm" invoke "$n" --store "$store" >"$tmp/$n.out" || true
  ok=$(wc -l <"$tmp/$n.log")
  check "$n: nothing committed lost (next value $(value "$tmp/$n.out") = $ok + 1)" \
    '[ "$(value "$tmp/$n.out")" = $((ok + 1)) ]'
done
echo "phase 2: clean again $(wait_clean 120) s after the checks began ($(secs "$t_up" "$(now)") s after osd.$victim was up)"

# ---- 3. below min_size ------------------------------------------------------------------------
"$javm" invoke t --store "$store" >"$tmp/t.out"
t_before=$(value "$tmp/t.out")
slow="$store?timeout=$short"
# a client stopped (by the hook) just before its head op, continued once two OSDs are down
JAVM_TEST_STOP_AT=commit "$javm" invoke t --store "$slow" >"$tmp/held.out" 2>"$tmp/held.err" &
held=$!; pids+=("$held")
for ((i = 0; i < 3000; i++)); do [ "$(state_of "$held")" = T ] && break; sleep 0.01; done
check "the held client stopped at its commit" '[ "$(state_of "$held")" = T ]'
a=(0 1 2); down1=${a[RANDOM % 3]}; down2=$(( (down1 + 1 + RANDOM % 2) % 3 ))
cl stop-osd "$down1" >/dev/null; downed+=("$down1")
cl stop-osd "$down2" >/dev/null; downed+=("$down2")
t0=$(now)
rc=0; "$javm" invoke t --store "$slow" >"$tmp/fresh.out" 2>"$tmp/fresh.err" || rc=$?
fresh=$(secs "$t0" "$(now)")
echo "phase 3: osd.$down1 and osd.$down2 stopped; a fresh invoke (timeout $short s) exits $rc after $fresh s: $(cat "$tmp/fresh.err")"
check "fresh invoke: exit 3 ($rc), \"timed out\", within $short + 5 s ($fresh)" \
  '[ $rc -eq 3 ] && grep -q "timed out" "$tmp/fresh.err" && awk -v d="$fresh" -v l=$((short + 5)) "BEGIN{exit !(d <= l)}"'
t0=$(now)
kill -CONT "$held"
rc=0; wait "$held" || rc=$?
pids=()
heldt=$(secs "$t0" "$(now)")
echo "phase 3: the held client, continued, exits $rc after $heldt s: $(cat "$tmp/held.err")"
# its head op times out, then the seal that would learn the outcome does too (§6)
check "held invoke: exit 3 ($rc), \"timed out\", within 2 x $short + 7 s ($heldt)" \
  '[ $rc -eq 3 ] && grep -q "timed out" "$tmp/held.err" && awk -v d="$heldt" -v l=$((2 * short + 7)) "BEGIN{exit !(d <= l)}"'
t0=$(now)
cl start-osd "$down1" >/dev/null; osd_up "$down1"
cl start-osd "$down2" >/dev/null; osd_up "$down2"
echo "phase 3: both OSDs up in $(secs "$t0" "$(now)") s, clean $(wait_clean 120) s later"
frc=0; "$javm" fsck --store "$store" >"$tmp/fsck" 2>&1 || frc=$?
check "phase 3: fsck clean after the OSDs are back (exit $frc)" '[ $frc -eq 0 ] || { cat "$tmp/fsck"; false; }'
"$javm" invoke t --store "$store" >"$tmp/t.out" || true
at=$(( $(value "$tmp/t.out") - 1 ))
echo "phase 3: t was at $t_before; after the timeouts it is at $at"
check "t is at the old state or the new one ($at: $t_before or $((t_before + 1)))" \
  '[ "$at" = "$t_before" ] || [ "$at" = $((t_before + 1)) ]'

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
