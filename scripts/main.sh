#!/usr/bin/env bash
# Sets up everything, then runs the main job (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node bin/longhorn-local.js demo "$@"
