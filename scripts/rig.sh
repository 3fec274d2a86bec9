#!/usr/bin/env bash
# A persistent rig for the demo: the same rig as the tests (e2e/rig/index.ts) in the named network
# namespace `tailtab` (loopback only), with Headscale and the DERP servers exposed on the host's
# 127.0.0.1 through unix-socket bridges. State: .rig/state.json; logs: .rig/rig.log, .rig/bridge.log.
#   bash scripts/rig.sh up|down|status
set -euo pipefail
cd "$(dirname "$0")/.."
NS=tailtab
STATE=$PWD/.rig/state.json
SOCKDIR=$PWD/.rig/sock
say() { printf '\033[1m[rig]\033[0m %s\n' "$*"; }
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

up() {
  if alive .rig/serve.pid; then say "already up"; status; return; fi
  [ -x .rig/bin/tailscale-v1.102.3/tailscaled ] || bash scripts/install.sh
  mkdir -p .rig
  if ! ip netns list | grep -qw "$NS"; then say "creating network namespace $NS (loopback only)"; ip netns add "$NS"; fi
  ip netns exec "$NS" ip link set lo up
  ip netns exec "$NS" sysctl -q -w net.ipv4.ping_group_range="0 2147483647"
  # Ports free on the host, so the host-side bridges can use the same numbers as inside.
  HS=${TAILTAB_HEADSCALE_PORT:-$(free_port)}; D1=$(free_port); D2=$(free_port)
  rm -f "$STATE"
  say "starting the rig in netns $NS (headscale :$HS, derpers :$D1 :$D2)"
  ip netns exec "$NS" setsid node --import tsx e2e/rig/cli.ts serve --state "$STATE" --sockdir "$SOCKDIR" \
    --headscale-port "$HS" --derp-ports "$D1,$D2" >.rig/rig.log 2>&1 < /dev/null &
  echo $! > .rig/serve.pid
  for _ in $(seq 1 240); do
    [ -f "$STATE" ] && break
    alive .rig/serve.pid || { say "rig failed to start:"; tail -20 .rig/rig.log; exit 1; }
    sleep 0.5
  done
  [ -f "$STATE" ] || { say "timed out; see .rig/rig.log"; down; exit 1; }
  setsid node --import tsx e2e/rig/cli.ts bridge --state "$STATE" >.rig/bridge.log 2>&1 < /dev/null &
  echo $! > .rig/bridge.pid
  sleep 1
  status
}

down() {
  for f in .rig/bridge.pid .rig/serve.pid; do
    if alive "$f"; then
      pid=$(cat "$f"); say "stopping $(basename "$f" .pid) (pid $pid)"; kill -TERM "$pid"
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$f"
  done
  rm -f "$STATE"; rm -rf "$SOCKDIR"
  if ip netns list | grep -qw "$NS"; then say "deleting network namespace $NS"; ip netns del "$NS"; fi
  say "down"
}

status() {
  if alive .rig/serve.pid && [ -f "$STATE" ]; then
    say "up (pid $(cat .rig/serve.pid)); state: $STATE"
    python3 - "$STATE" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"  headscale: {s['headscaleUrl']}")
for r in s['derpRegions']: print(f"  derp {r['regionId']}: {r['url']}")
for p in s['peers']: print(f"  peer {p['name']}: {p['ipv4']} {p['ipv6']} {p['fqdn']} home DERP {p['homeRegion']}")
PY
  else
    say "down"
  fi
}

case "${1:-}" in
  up) up ;; down) down ;; status) status ;;
  # PIDs saved are the node processes themselves (exec chain: ip netns exec -> setsid -> node).
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
