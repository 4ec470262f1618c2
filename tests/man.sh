#!/usr/bin/env bash
# Every subcommand is documented: each one declared in tools/cli.h is in the command table
# (javm --help), answers --help with "usage: javm CMD", and has its section in the generated
# javm.1 and a javm-CMD.1 page whose rendering carries that usage text; the README's command
# table and docs/cli.md name it too. The pages are build products (cmake/man.cmake).
set -uo pipefail
javm=$1 root=$2
man=$(dirname "$javm")/man
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
declared=$(sed -n 's/^int cmd_\([a-z]*\)(int argc, char \*\*argv);$/\1/p' "$root/tools/cli.h" | sort)
listed=$("$javm" --help | awk '/^commands:/{on=1; next} on && /^$/{exit} on {print $1}' | sort)
[ -n "$declared" ] && [ "$declared" = "$listed" ] && ok || bad "tools/cli.h and javm --help differ: $(diff <(echo "$declared") <(echo "$listed") | tr '\n' ' ')"
[ -f "$man/javm.1" ] && ok || bad "$man/javm.1 not generated"
render() { MANWIDTH=200 man -l "$1" 2>/dev/null | col -b; }
command -v man >/dev/null && command -v col >/dev/null || render() { cat "$1"; }
top=$(render "$man/javm.1")
for c in $listed; do
  h=$("$javm" "$c" --help 2>&1); rc=$?
  [ $rc -eq 0 ] && [[ "$h" == "usage: javm $c"* ]] && ok || bad "javm $c --help (rc $rc): $(echo "$h" | head -1)"
  first=$(echo "$h" | head -1)
  grep -q "^\.SS $c\$" "$man/javm.1" && ok || bad "javm.1 has no section for $c"
  grep -qF -- "$first" <<< "$top" && ok || bad "javm.1 lacks '$first'"
  if [ -f "$man/javm-$c.1" ]; then
    grep -qF -- "$first" <<< "$(render "$man/javm-$c.1")" && ok || bad "javm-$c.1 lacks '$first'"
  else
    bad "no javm-$c.1"
  fi
  grep -qE "^\| \`javm $c( |\`)" "$root/README.md" && ok || bad "README.md command table lacks javm $c"
  if [ -f "$root/docs/cli.md" ]; then
    grep -qE "^#+ \`?javm $c( |\`|$)" "$root/docs/cli.md" && ok || bad "docs/cli.md has no heading for javm $c"
  fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
