#!/usr/bin/env bash
# Sets up everything, then runs every check: type check, lint, format, unit and e2e tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx biome check .
npx vitest run "$@"
