#!/usr/bin/env bash
# CI: the default suite, time-scaled as the files say; junit.xml kept in ci-artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p ci-artifacts
set +e
.build/debug/wachaos run chaos --runs-dir ci-artifacts/runs
status=$?
set -e
latest=$(ls -1d ci-artifacts/runs/*/ 2>/dev/null | tail -n 1)
[ -n "$latest" ] && cp "$latest/junit.xml" ci-artifacts/junit.xml && cp "$latest/report.json" ci-artifacts/report.json
exit $status
