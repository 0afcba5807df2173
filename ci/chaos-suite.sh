#!/usr/bin/env bash
# CI: the default suite on every engine, time-scaled as the files say; on the embedded engine
# also its own faults (chaos/sqlite) and every regression scenario (chaos/regressions). Then, from the saved runs: the nemesis
# schedule is replayed as a plain scenario and must pass again, every run folder is re-judged
# with `wachaos recheck`, and the nemesis timeline is screenshot in headless Chromium. The default
# suite runs on both nets: the proxy mesh (every engine) and, with the capabilities, network
# namespaces (sqlite, plus chaos/net), which must leave no namespace behind.
# Artifacts in ci-artifacts/: junit-ENGINE.xml, junit-netns.xml, report-*.json, runs-*, nemesis-timeline.png.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p ci-artifacts
status=0
for engine in sqlite postgres; do
  echo "== chaos suite on $engine"
  # chaos/clients: independent client libraries of the API drive the cluster (ci/compat).
  suites=(chaos chaos/clients)
  # The embedded engine also runs its own faults (chaos/sqlite: db_lock) and every regression.
  [ "$engine" = sqlite ] && suites+=(chaos/sqlite chaos/regressions)
  set +e
  .build/debug/wachaos run "${suites[@]}" --db "$engine" --net proxy --runs-dir "ci-artifacts/runs-$engine"
  s=$?
  set -e
  latest=$(ls -1d "ci-artifacts/runs-$engine"/*/ 2>/dev/null | tail -n 1)
  if [ -n "$latest" ]; then
    cp "$latest/junit.xml" "ci-artifacts/junit-$engine.xml"
    cp "$latest/report.json" "ci-artifacts/report-$engine.json"
    echo "== recheck of $latest"
    set +e
    .build/debug/wachaos recheck "$latest" | tail -n 3
    r=${PIPESTATUS[0]}
    set -e
    [ "$r" -ne 0 ] && { echo "recheck of $latest did not pass (status $r)"; status=$r; }
  fi
  for log in "ci-artifacts/runs-$engine"/*/client-library-*/compat.log; do
    [ -f "$log" ] && { echo "== $(basename "$(dirname "$log")") on $engine: the client library's calls"; cat "$log"; }
  done
  [ "$s" -ne 0 ] && status=$s
done
# The default suite again with every host in a network namespace of its own (kernel partitions,
# loss and bandwidth; chaos/net holds what only the kernel can do), where the runner has
# CAP_NET_ADMIN and CAP_SYS_ADMIN; without them, the capability report and the proxy fallback.
capeff=$((16#$(awk '/^CapEff/ {print $2}' /proc/self/status)))
if (( (capeff >> 12) & 1 )) && (( (capeff >> 21) & 1 )); then
  echo "== chaos suite on sqlite, --net netns"
  set +e
  .build/debug/wachaos run chaos chaos/net --db sqlite --net netns --runs-dir ci-artifacts/runs-netns
  s=$?
  set -e
  latest=$(ls -1d ci-artifacts/runs-netns/*/ 2>/dev/null | tail -n 1)
  if [ -n "$latest" ]; then
    cp "$latest/junit.xml" ci-artifacts/junit-netns.xml
    cp "$latest/report.json" ci-artifacts/report-netns.json
    set +e
    .build/debug/wachaos recheck "$latest" | tail -n 3
    r=${PIPESTATUS[0]}
    set -e
    [ "$r" -ne 0 ] && { echo "recheck of $latest did not pass (status $r)"; status=$r; }
  fi
  [ "$s" -ne 0 ] && status=$s
  # The run removes its own; give a janitor that took over (a failed run) a moment to finish.
  for _ in $(seq 1 50); do ip netns list | grep -q '^wachaos-' || break; sleep 0.2; done
  left=$(ip netns list | grep -c '^wachaos-' || true)
  [ "$left" -ne 0 ] && { echo "the netns suite left $left namespace(s):"; ip netns list; status=1; }
else
  echo "== --net netns skipped: this runner lacks CAP_NET_ADMIN or CAP_SYS_ADMIN; what it would say:"
  .build/debug/wachaos run chaos/01-ha-health-pre-registration.yml --net auto --runs-dir ci-artifacts/runs-netns-fallback | head -n 5 || true
fi
nemesis=$(ls -1d ci-artifacts/runs-sqlite/*/nemesis-coreapps 2>/dev/null | tail -n 1)
if [ -n "$nemesis" ] && [ -f "$nemesis/schedule.yml" ]; then
  echo "== replay of the nemesis schedule $nemesis/schedule.yml"
  set +e
  .build/debug/wachaos run "$nemesis/schedule.yml" --runs-dir ci-artifacts/runs-replay
  s=$?
  set -e
  [ "$s" -ne 0 ] && { echo "the replayed schedule did not pass (status $s)"; status=$s; }
  if command -v chromium >/dev/null; then
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,1400 \
      --screenshot="$nemesis/timeline.png" "file://$(pwd)/$nemesis/timeline.html" >/dev/null 2>&1 || true
    if [ -s "$nemesis/timeline.png" ]; then cp "$nemesis/timeline.png" ci-artifacts/nemesis-timeline.png; echo "timeline screenshot: $nemesis/timeline.png"
    else echo "headless Chromium did not render $nemesis/timeline.html"; status=1; fi
  fi
else
  echo "no nemesis run with a schedule.yml under ci-artifacts/runs-sqlite"; status=1
fi
exit $status
