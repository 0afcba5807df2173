#!/usr/bin/env bash
# Installs the system packages the build and the suites need (Debian). Idempotent: only
# what is missing is installed, so a warm machine pays nothing.
set -euo pipefail
# chromium: headless screenshots of the HTML timeline (the report must render).
# tmux: ci/up-tmux.sh drives `wachaos up` in one pane and `wachaos fault` in another.
# nftables, iproute2: --net netns (namespaces, veths, kernel link faults); libcap2-bin: capsh, to
# show the capability report without CAP_NET_ADMIN; socat: the relay `wachaos bench links` compares with.
needed=(libsqlite3-dev libpq-dev libcap-dev pkg-config postgresql sqlite3 curl chromium tmux nftables iproute2 libcap2-bin socat)
missing=()
for p in "${needed[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
# wabclient: an independent On-Premises API client from PyPI that chaos/clients drives the replica with.
python3 -c 'import wabclient' 2>/dev/null || python3 -m pip install -q 'wabclient==2.3.3'

