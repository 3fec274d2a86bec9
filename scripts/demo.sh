#!/usr/bin/env bash
# npm run demo: the app connected to a local demo tailnet, nothing leaving this machine.
#   1. install (idempotent), 2. the persistent rig (scripts/rig.sh up: Headscale, two derpers,
#   tailscaled peers peer1/peer2 with Tailscale SSH, OpenSSH and a web server, in netns 'tailtab',
#   bridged to the host's 127.0.0.1 on the same port numbers), 3. vite serving the app with
#   /key, /ts2021 and /machine/ proxied to the rig's Headscale (Headscale sends no CORS headers, so
#   the page must reach it on its own origin) and the demo defaults in /tailtab-config.json.
# The DERP servers need no proxy: the derp map names 127.0.0.1:<port>, and rig.sh bridges exactly
# those ports to the host, so the browser's WebSocket to ws://127.0.0.1:<port>/derp arrives.
# Ctrl-C stops vite and the rig by PID. Env: TAILTAB_PORT (default 5173), TAILTAB_DEMO_KEEP_RIG=1.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[1m[demo]\033[0m %s\n' "$*"; }

bash scripts/install.sh
bash scripts/rig.sh up
STATE=$PWD/.rig/state.json
[ -f "$STATE" ] || { say "the rig did not come up (see .rig/rig.log)"; exit 1; }

PORT=${TAILTAB_PORT:-5173}
# The page is opened as tailtab.localhost (browsers resolve *.localhost to loopback): its web view
# then runs proxied apps on the sibling origin proxy.tailtab.localhost, away from tailtab's keys.
ORIGIN="http://tailtab.localhost:$PORT"
LOOPBACK="http://127.0.0.1:$PORT"
CONFIG=$PWD/.rig/app-config.json
HEADSCALE_BIN=$PWD/.rig/bin/headscale-v0.29.2/headscale

# Both the app and the widget log in with a reusable *ephemeral* key: every fresh browser profile
# that opens the demo registers a node (demo-browser, demo-browser-1, …), and an ephemeral one is
# deleted by Headscale once it has been offline for node.ephemeral.inactivity_timeout (2 min in the
# rig), so the demo tailnet does not fill up. A profile that comes back later logs in again with
# the same key (its stored login is refused, control/client.ts registers anew).
RIG_DIR=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["dir"])' "$STATE")
USER_ID=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["user"]["id"])' "$STATE")
DEMO_KEY=$("$HEADSCALE_BIN" -c "$RIG_DIR/headscale.yaml" preauthkeys create --user "$USER_ID" --reusable --ephemeral -e 24h -o json \
  | python3 -c 'import json,sys;print(json.load(sys.stdin)["key"])')

umask 077
python3 - "$STATE" "$CONFIG" "$ORIGIN" "$DEMO_KEY" <<'PY'
import json, sys
state, out, origin, demo_key = sys.argv[1:5]
s = json.load(open(state))
peer = next((p for p in s["peers"] if p.get("ssh")), s["peers"][0])
cfg = {
    # "/" = the page's own origin (under any name): vite forwards the control paths to Headscale.
    "controlUrl": "/",
    "authKey": demo_key,
    "hostname": "demo-browser",
    "allowInsecureDerp": True,
    "autoConnect": True,
    # The widget demo: Tailscale SSH to a peer, as root (the rig's policy allows it).
    "widgetAuthKey": demo_key,
    "widgetTarget": peer["fqdn"],
    "widgetMode": "ssh",
    "widgetUser": "root",
    "widgetSshAuth": "none",
}
json.dump(cfg, open(out, "w"), indent=2)
PY

HS_URL=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["headscaleUrl"])' "$STATE")
VITE_PID=""
cleanup() {
  trap - INT TERM EXIT
  if [ -n "$VITE_PID" ] && kill -0 "$VITE_PID" 2>/dev/null; then
    say "stopping vite (pid $VITE_PID)"
    kill -TERM "$VITE_PID" 2>/dev/null || true
    wait "$VITE_PID" 2>/dev/null || true
  fi
  if [ "${TAILTAB_DEMO_KEEP_RIG:-0}" != 1 ]; then bash scripts/rig.sh down; fi
}
trap cleanup INT TERM EXIT

TAILTAB_CONTROL_UPSTREAM=$HS_URL TAILTAB_APP_CONFIG=$CONFIG TAILTAB_PORT=$PORT \
  node node_modules/vite/bin/vite.js --port "$PORT" --strictPort --host 127.0.0.1 &
VITE_PID=$!
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "$LOOPBACK/" 2>/dev/null && break
  kill -0 "$VITE_PID" 2>/dev/null || { say "vite exited"; exit 1; }
  sleep 0.2
done
say "the app:         $ORIGIN/   (connects to the demo tailnet by itself)"
say "the widget demo: $ORIGIN/widget-demo.html?autostart"
say "also served at $LOOPBACK/ (there the web view shares tailtab's origin and says so)"
say "new-user flow:   $ORIGIN/?fresh=1 with the key from $CONFIG; kiosk mode: $ORIGIN/?ephemeral=1"
say "control: $HS_URL (proxied as $ORIGIN/key, /ts2021, /machine/); Ctrl-C stops everything"
wait "$VITE_PID"
