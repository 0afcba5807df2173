#!/usr/bin/env bash
# `wachaos up` as a person runs it, under tmux: the live view in one pane redraws while
# `wachaos fault` injects and heals from another; Ctrl-C ends the session with its report.
# Saves each captured screen under ci-artifacts/up-tmux/ and prints the one showing the fault.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${WACHAOS_BIN:-.build/debug}
out=ci-artifacts/up-tmux
rm -rf "$out" && mkdir -p "$out"
runs=$(mktemp -d /tmp/wachaos-up-tmux.XXXXXX)
name="wachaos-up-$$"
tmux() { command tmux -L "$name" "$@"; }   # a tmux server of this script's own
# On any exit: the session's process first (SIGTERM twice is its hard stop; then SIGKILL), then tmux.
cleanup() {
  pid=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['pid'])" "$runs/up-session.json" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null; sleep 0.2; kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  tmux kill-server 2>/dev/null || true
  rm -rf "$runs"
}
trap cleanup EXIT

fail() { echo "up-tmux: $*"; for f in "$out"/*.txt; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; }; done; exit 1; }

# Wait until pane $1's screen contains $2 (a grep -E pattern), for up to $3 seconds; saves it as $4.
wait_screen() {
  local deadline=$(( $(date +%s) + $3 ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    tmux capture-pane -p -t "$name:0.$1" > "$out/$4.txt"
    grep -Eq "$2" "$out/$4.txt" && return 0
    sleep 0.5
  done
  return 1
}

tmux new-session -d -s "$name" -x 150 -y 70 \
  "$bin/wachaos up --topology 'masters: 2, coreapps: 3' --shards 2 --workload 20 --time-scale 0.1 --runs-dir $runs --view screen; echo UP-EXITED-\$?; sleep 600"
tmux split-window -v -t "$name:0" "bash"
wait_screen 0 "shard 1 \(wacore[0-9]\): +[0-9]+% accepted" 120 1-before || fail "the live view never showed both shards taking sends"
grep -q "faults: none" "$out/1-before.txt" || fail "faults before any was injected"
grep -q "^wachaos up · up · db sqlite · 2 shards" "$out/1-before.txt" || grep -q "wachaos up · up · db sqlite · 2 shards" "$out/1-before.txt" || fail "the live view lacks its title line"

tmux send-keys -t "$name:0.1" "$bin/wachaos fault --runs-dir $runs kill owner:0" Enter
wait_screen 1 "ok: kill" 30 2-fault-pane || fail "wachaos fault kill did not answer ok"
# The view redraws on its own: the fault, the node down, then the successor on shard 0.
wait_screen 0 "#1 kill: SIGKILL" 15 3-fault-shown || fail "the live view did not show the fault"
victim=$(grep -Eo "SIGKILL wacore[0-9]+" "$out/3-fault-shown.txt" | head -n 1 | cut -d' ' -f2)
grep -Eq "$victim +coreapp +down" "$out/3-fault-shown.txt" || fail "the live view did not show $victim down"
wait_screen 0 "shard 0 \(wacore[0-9]\): +[0-9]+% accepted" 30 4-failed-over || fail "no owner for shard 0 after the kill"

tmux send-keys -t "$name:0.1" "$bin/wachaos fault --runs-dir $runs heal all && $bin/wachaos fault --runs-dir $runs start $victim" Enter
wait_screen 0 "faults: none" 30 5-healed || fail "the live view still shows a fault after heal all and start"

tmux send-keys -t "$name:0.0" C-c
wait_screen 0 "UP-EXITED-[0-9]+" 180 6-ended || fail "wachaos up did not end after Ctrl-C"
grep -q "UP-EXITED-0" "$out/6-ended.txt" || fail "wachaos up ended with a failure"
grep -q "1 passed, 0 failed" "$out/6-ended.txt" || fail "no passing report after Ctrl-C"
session=$(ls -d "$runs"/*-up-up/up)
grep -q 'kill: "owner(shard: 0)"' "$session/session.yml" || fail "the recording lacks the kill"
echo "up-tmux: the live view while wacore was down (pane 0, $out/3-fault-shown.txt):"
sed -e 's/[[:space:]]*$//' "$out/3-fault-shown.txt" | grep -v '^$'
echo "up-tmux: pass (session $session)"
