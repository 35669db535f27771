#!/usr/bin/env bash
# Sets up everything, then runs every check: type check, lint, format, unit and e2e tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# tsc -b (in setup) checks the sources; the suites and benchmarks are checked here.
npx tsc -p dataplane/tsconfig.check.json
npx tsc -p test/tsconfig.check.json
npx tsc -p api/tsconfig.check.json
npx tsc -p kube-runtime/tsconfig.check.json
npx tsc -p operator/tsconfig.check.json
npx tsc -p webhooks/tsconfig.check.json
npx tsc -p scheduler-extender/tsconfig.check.json
npx tsc -p csi/tsconfig.check.json
npx tsc -p plugins/kubectl-longhorn/tsconfig.check.json
npx biome check .
npx vitest run "$@"
