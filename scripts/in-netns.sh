#!/usr/bin/env bash
# Runs a command in a fresh network namespace that has only the loopback interface (up):
# nothing the command starts can send a packet off this machine.
#   bash scripts/in-netns.sh npx vitest run --project e2e
set -euo pipefail
if [ $# -eq 0 ]; then echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
# ping_group_range is per netns and closed by default: tailscaled's netcheck measures DERP
# latency with unprivileged ICMP when UDP is blocked, which the rig needs to pin home regions.
exec $SUDO unshare --net -- bash -c 'ip link set lo up && sysctl -q -w net.ipv4.ping_group_range="0 2147483647" && exec "$@"' in-netns "$@"
