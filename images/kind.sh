#!/usr/bin/env bash
# longhorn-ts on a kind cluster, for hosts with Docker (a laptop): creates the cluster, loads the
# images built by images/build.sh, installs the VolumeSnapshot CRDs and the chart, and waits for
# the node pods.
#
#   sudo bash images/build.sh all && bash images/kind.sh [CLUSTER_NAME]   (default longhorn-ts)
#
# Needs docker, kind, kubectl, helm and buildah (to export the images). It has NOT been run: the
# machines this project is built on have no Docker engine (images/README.md).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
name=${1:-longhorn-ts}
tag=${LONGHORN_TS_IMAGE_TAG:-$(node -p "require('$repo/package.json').version")}
snapshotter=${SNAPSHOTTER_VERSION:-v8.6.0}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for tool in docker kind kubectl helm buildah; do
  command -v "$tool" >/dev/null || { echo "kind.sh: $tool is missing" >&2; exit 1; }
done

# One control plane and three workers: three replicas, one per node, as the StorageClass asks.
cat >"$work/kind.yaml" <<'KIND'
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
  - role: control-plane
  - role: worker
    labels: {topology.kubernetes.io/zone: zone-a}
  - role: worker
    labels: {topology.kubernetes.io/zone: zone-b}
  - role: worker
    labels: {topology.kubernetes.io/zone: zone-c}
KIND
kind get clusters | grep -qx "$name" || kind create cluster --name "$name" --config "$work/kind.yaml"

for image in node controller; do
  ref="localhost/longhorn-ts-$image:$tag"
  buildah push "$ref" "docker-archive:$work/$image.tar:$ref"
  kind load image-archive "$work/$image.tar" --name "$name"
done

# VolumeSnapshot CRDs and the snapshot-controller come from kubernetes-csi, as for Longhorn.
kubectl apply -k "github.com/kubernetes-csi/external-snapshotter/client/config/crd?ref=$snapshotter"
kubectl apply -k "github.com/kubernetes-csi/external-snapshotter/deploy/kubernetes/snapshot-controller?ref=$snapshotter"

helm upgrade --install longhorn-ts "$repo/charts/longhorn-ts" -n longhorn-system --create-namespace \
  --set image.node.tag="$tag" --set image.controller.tag="$tag" --set image.pullPolicy=Never
kubectl -n longhorn-system rollout status daemonset/longhorn-ts-node --timeout=300s
kubectl -n longhorn-system get pods -o wide
