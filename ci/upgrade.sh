#!/usr/bin/env bash
# Verify release upgrades (SPEC §13): builds a git ref of this repository (default: the latest
# release tag v*, else HEAD~1) into its own scratch folder .build-REF (git-ignored; rebuilt only
# when the ref moved), then runs the upgrade scenarios (chaos/upgrade) from that build to this
# working tree's, on every engine. Prints how long the old build took.
# Usage: ci/upgrade.sh [REF] [ENGINE...]   (engines default: sqlite postgres)
set -euo pipefail
cd "$(dirname "$0")/.."
ref="${1:-}"
[ $# -gt 0 ] && shift
if [ -z "$ref" ]; then
  ref=$(git describe --tags --abbrev=0 --match 'v*' 2>/dev/null || echo HEAD~1)
fi
commit=$(git rev-parse --verify --quiet "$ref^{commit}") || { echo "ci/upgrade.sh: '$ref' is not a git ref of this repository"; exit 2; }
slug=$(printf '%s' "$ref" | tr -c 'A-Za-z0-9._-' '_')
scratch="$PWD/.build-$slug"
if [ "$(cat "$scratch/commit" 2>/dev/null || true)" != "$commit" ] || [ ! -x "$scratch/build/debug/wacluster" ]; then
  rm -rf "$scratch/src"
  mkdir -p "$scratch/src"
  git archive "$commit" | tar -x -C "$scratch/src"
  started=$(date +%s)
  echo "== building wacluster of $ref ($commit) into $scratch"
  if ! (cd "$scratch/src" && swift build --product wacluster --scratch-path "$scratch/build" > "$scratch/build.log" 2>&1); then
    tail -n 30 "$scratch/build.log"; echo "ci/upgrade.sh: building $ref failed; see $scratch/build.log"; exit 1
  fi
  echo "$commit" > "$scratch/commit"
  echo "built $ref in $(( $(date +%s) - started )) s"
else
  echo "== $ref ($commit) already built in $scratch"
fi
echo "old build: $("$scratch/build/debug/wacluster" --version 2>/dev/null || echo "a release without --version")"
echo "new build: $(.build/debug/wacluster --version)"
engines=("$@")
[ ${#engines[@]} -eq 0 ] && engines=(sqlite postgres)
mkdir -p ci-artifacts
status=0
for engine in "${engines[@]}"; do
  echo "== upgrade scenarios on $engine: $ref → working tree"
  set +e
  .build/debug/wachaos run chaos/upgrade --db "$engine" --build old="$scratch/build/debug" --runs-dir "ci-artifacts/runs-upgrade-$engine"
  s=$?
  set -e
  latest=$(ls -1d "ci-artifacts/runs-upgrade-$engine"/*/ 2>/dev/null | tail -n 1)
  if [ -n "$latest" ]; then
    python3 - "$latest/report.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1])):
    for c in r["checks"]:
        if c["name"] == "upgrade cost":
            print(f"{r['scenario']}: {c['verdict']}: {c['reason']}")
PY
  fi
  [ "$s" -ne 0 ] && status=$s
done
exit $status
