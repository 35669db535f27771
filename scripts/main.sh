#!/usr/bin/env bash
# Sets up everything, then runs the main job: a local Kubernetes control plane with 3 simulated
# nodes in 3 zones, and a 3-replica volume on simulated data-plane nodes, served over NBD.
# Both stay up until Ctrl-C, then everything is torn down.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export LONGHORN_TS_CACHE="${LONGHORN_TS_CACHE:-$HOME/.cache/longhorn-ts}"
dir="${LONGHORN_TS_LOCAL_DIR:-$LONGHORN_TS_CACHE/local}"
cluster_up=0
cleanup() {
  if [ "$cluster_up" = 1 ]; then node bin/longhorn-local.js cluster down --dir "$dir/cluster" || true; fi
}
trap cleanup EXIT
if [ "${LONGHORN_TS_SKIP_K8S:-}" != 1 ]; then
  node bin/longhorn-local.js cluster down --dir "$dir/cluster" >/dev/null 2>&1 || true
  echo "starting a local Kubernetes control plane with 3 simulated nodes ..."
  kubeconfig=$(node bin/longhorn-local.js cluster up --dir "$dir/cluster" --nodes 3 | tail -n 1)
  cluster_up=1
  "$LONGHORN_TS_CACHE/bin/kubectl" --kubeconfig "$kubeconfig" get nodes -L topology.kubernetes.io/zone
  echo "kubeconfig: $kubeconfig   (kubectl --kubeconfig $kubeconfig ...)"
  echo
fi
node bin/longhorn-local.js demo --dir "$dir/volume" "$@"
