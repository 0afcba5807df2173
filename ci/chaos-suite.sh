#!/usr/bin/env bash
# CI: the default suite on every engine, time-scaled as the files say; each engine's junit.xml
# and report.json are kept in ci-artifacts/ (junit-ENGINE.xml, report-ENGINE.json).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p ci-artifacts
status=0
for engine in sqlite postgres; do
  echo "== chaos suite on $engine"
  set +e
  .build/debug/wachaos run chaos --db "$engine" --runs-dir "ci-artifacts/runs-$engine"
  s=$?
  set -e
  latest=$(ls -1d "ci-artifacts/runs-$engine"/*/ 2>/dev/null | tail -n 1)
  if [ -n "$latest" ]; then
    cp "$latest/junit.xml" "ci-artifacts/junit-$engine.xml"
    cp "$latest/report.json" "ci-artifacts/report-$engine.json"
  fi
  [ "$s" -ne 0 ] && status=$s
done
exit $status
