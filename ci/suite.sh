#!/usr/bin/env bash
# The main job (README): install what is needed, build, run the chaos suite on the embedded
# SQLite default. Extra arguments go to `wachaos run` (e.g. --seed 7, --filter kill, --keep).
set -euo pipefail
cd "$(dirname "$0")/.."
ci/install-deps.sh
swift build 2>&1 | grep -v "unhandled; explicitly declare" | tail -n 5
exec .build/debug/wachaos run chaos "$@"
