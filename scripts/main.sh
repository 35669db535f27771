#!/usr/bin/env bash
# Sets up everything, then runs the main job: a local Kubernetes cluster (the real control plane,
# 3 kwok nodes in 3 zones) with longhorn-ts on every node (an instance manager, an operator, a CSI
# node plugin and a kubelet stand-in), and the tour: StorageClass longhorn, a PVC, a Pod whose
# volume is mounted as ext4, a file written into the mount, a VolumeSnapshot, a PVC restored from
# it holding the same file, and the objects as kubectl and the kubectl plugin show them.
# Everything stays up until Ctrl-C (`--once`: stops after the tour), then is torn down.
# LONGHORN_TS_SKIP_K8S=1: no control plane; the data-plane tour alone (`longhorn-local demo`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export LONGHORN_TS_CACHE="${LONGHORN_TS_CACHE:-$HOME/.cache/longhorn-ts}"
dir="${LONGHORN_TS_LOCAL_DIR:-$LONGHORN_TS_CACHE/local}"
if [ "${LONGHORN_TS_SKIP_K8S:-}" = 1 ]; then
  exec node bin/longhorn-local.js demo --dir "$dir/volume" "$@"
fi

cluster="$dir/cluster"
cleanup() {
  echo
  node bin/longhorn-local.js cluster down --dir "$cluster" || true
}
# A fresh cluster every time: what an earlier run left (processes, etcd data) goes first.
node bin/longhorn-local.js cluster down --dir "$cluster" >/dev/null 2>&1 || true
rm -rf "$cluster"
trap cleanup EXIT
echo "starting a local Kubernetes control plane with 3 simulated nodes and longhorn-ts on each ..."
mkdir -p "$dir"
node bin/longhorn-local.js cluster up --dir "$cluster" --nodes 3 >"$dir/cluster-up.out"
cat "$dir/cluster-up.out"
kubeconfig=$(tail -n 1 "$dir/cluster-up.out")
echo
"$LONGHORN_TS_CACHE/bin/kubectl" --kubeconfig "$kubeconfig" get nodes -L topology.kubernetes.io/zone
echo
node bin/longhorn-local.js cluster status --dir "$cluster"
echo
node bin/longhorn-local.js cluster tour --dir "$cluster" "$@"
