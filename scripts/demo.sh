#!/usr/bin/env bash
# Demo entry (stub): brings the persistent rig up; the app server part is added by the UI work.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
bash scripts/rig.sh up
