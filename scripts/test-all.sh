#!/usr/bin/env bash
# The project's one test command (`npm test`, also run by .ci/run): installs what is needed, type-checks,
# runs the unit tests, then every e2e test inside a loopback-only network namespace. Fails on any failure;
# nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n\033[1m[test] %s\033[0m\n' "$*"; }
t0=$SECONDS
step "install (scripts/install.sh)"
bash scripts/install.sh
step "type-check (tsc --noEmit)"
npx tsc --noEmit -p .
step "format (prettier --check: one layout, so diffs show changes of meaning)"
npx prettier --check . >/dev/null || { npx prettier --list-different .; echo "run: npx prettier --write ."; exit 1; }
step "lint (eslint: layer order of src/, no DOM in core code, file and function sizes)"
npx eslint .
step "unit tests (vitest --project unit; property tests with a fresh fast-check seed, printed: FUZZ_SEED replays)"
npx vitest run --project unit
step "fuzz, short (npm run fuzz -- --ci: the wire-format parsers again with a second fresh seed, printed; under a minute)"
npm run --silent fuzz -- --ci
step "e2e tests against the real programs, in a loopback-only network namespace"
bash scripts/in-netns.sh npx vitest run --project e2e
step "all tests passed in $((SECONDS - t0)) s"
