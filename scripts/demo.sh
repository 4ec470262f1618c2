#!/usr/bin/env bash
# The main job: runs the demo end to end with the javm command given as $1.
set -euo pipefail
javm=${1:-build/javm}
"$javm" demo
