#!/usr/bin/env bash
# The main job: the C example guests built with clang-19, linked into JAVM images, and run
# end to end with the javm command on the embedded LMDB store (kept in build/demo-store so it
# can be inspected afterwards). $1 is the javm command.
set -euo pipefail
javm=${1:-build/javm}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
store="$(dirname "$(realpath "$javm")")/demo-store"
rm -rf "$store"
JAVM_DEMO_STORE="$store" "$root/scripts/guest-demo.sh" "$javm"
echo
echo "== the store after the demo ($store)"
"$javm" ls --store "$store"
"$javm" files --store "$store"
echo
echo "inspect it yourself: $javm ls --store $store   (or cat, files, invoke, gc)"
