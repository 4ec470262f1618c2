#!/usr/bin/env bash
# scripts/gen-man.sh — writes the man pages of the javm command from the command itself, so
# they cannot drift from --help: javm.1 (every subcommand, with its full --help text) and one
# javm-CMD.1 per subcommand. The list of subcommands and their one-line summaries is read from
# `javm --help` (the table in tools/main.c), each page body from `javm CMD --help`.
# Usage: scripts/gen-man.sh JAVM OUTDIR      (run by the build; see CMakeLists.txt)
set -euo pipefail
javm=$1 out=$2
mkdir -p "$out"
ver=$("$javm" --version | awk '{print $2}')
top=$("$javm" --help)
# "  name       summary" lines between "commands:" and the next blank line
cmds=$(printf '%s\n' "$top" | awk '/^commands:/{on=1; next} on && /^$/{exit} on {print}')
[ -n "$cmds" ] || { echo "gen-man: no commands in 'javm --help'" >&2; exit 1; }

# Text to roff, verbatim: backslashes escaped, a leading . or ' made literal.
roff() { sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }
# Help text as a no-fill block (keeps the column layout of the options).
block() { printf '.nf\n'; roff; printf '.fi\n'; }
th() { printf '.TH %s 1 "" "javm %s" "javm manual"\n' "$1" "$ver"; }

{
  th JAVM
  printf '.SH NAME\njavm \\- the JAVM capability VM: run PVM programs, keep caps in a store, invoke instances\n'
  printf '.SH SYNOPSIS\n'
  printf '%s\n' "$top" | awk '/^commands:/{exit} {print}' | block
  printf '.SH DESCRIPTION\n'
  printf 'javm is the command of javm-c, a C11 implementation of JAVM. It runs raw PVM programs\n'
  printf 'and conformance vectors on the interpreter, assembles, disassembles and links guest\n'
  printf 'images, and works on an embedded LMDB store of content-addressed caps: put an image,\n'
  printf 'spawn an instance, invoke it; every invocation that halts is committed in one transaction.\n'
  printf '.PP\nStore commands use \\fB./.javm\\fR unless \\fB\\-\\-store\\fR PATH or \\fBJAVM_STORE\\fR names another\n'
  printf 'store, which is created on first use. Hashes print as lowercase hex; a unique prefix of at\n'
  printf 'least 8 hex digits is accepted wherever a hash is expected.\n'
  printf '.SH COMMANDS\n'
  printf '%s\n' "$cmds" | while read -r name summary; do
    printf '.SS %s\n' "$name"
    printf '%s\n' "$summary" | roff
    printf '.PP\n'
    "$javm" "$name" --help | block
  done
  printf '.SH ENVIRONMENT\n'
  printf '.TP\n.B JAVM_STORE\nthe store path when \\fB\\-\\-store\\fR is not given.\n'
  printf '.TP\n.B JAVM_BENCH_PROGRAMS\nthe folder of benchmark programs for \\fBjavm bench\\fR.\n'
  printf '.SH EXIT STATUS\n'
  printf '%s\n' "$top" | awk '/^Each command takes/{on=1} on {print}' | block
  printf '.SH SEE ALSO\n'
  printf '%s\n' "$cmds" | awk '{printf "%s\\fBjavm-%s\\fR(1)", (NR > 1 ? ",\n" : ""), $1} END {print ""}'
} > "$out/javm.1"

printf '%s\n' "$cmds" | while read -r name summary; do
  {
    th "JAVM-$(printf '%s' "$name" | tr a-z A-Z)"
    printf '.SH NAME\njavm-%s \\- ' "$name"; printf '%s\n' "$summary" | roff
    printf '.SH SYNOPSIS AND OPTIONS\n'
    "$javm" "$name" --help | block
    printf '.SH SEE ALSO\n\\fBjavm\\fR(1)\n'
  } > "$out/javm-$name.1"
done
