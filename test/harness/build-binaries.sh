#!/usr/bin/env bash
# Builds the real Kubernetes parts the tests run (control plane, etcd, kwok, CSI sidecars, helm,
# MinIO) from the Go module proxy into a cache outside the repo. Idempotent: a part whose recipe
# (wrapper go.mod/go.sum, version, flags) is unchanged and whose binaries exist is skipped, so a
# warm run takes about a second.
#
#   bash test/harness/build-binaries.sh [core|extra|all]    (default: $LONGHORN_TS_K8S_BUILD or all)
#
# core  = kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd, kwok (fatal on error)
# extra = csi-sanity, csi-provisioner/-attacher/-snapshotter/-resizer, snapshot-controller and the
#         VolumeSnapshot CRDs, helm, minio, local-kms (an error is reported and the others go on)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
WHAT=${1:-${LONGHORN_TS_K8S_BUILD:-all}}
CACHE=${LONGHORN_TS_CACHE:-$HOME/.cache/longhorn-ts}
BIN=$CACHE/bin
LOGS=$CACHE/logs
STAMPS=$CACHE/stamps
SRC=$CACHE/src
mkdir -p "$BIN" "$LOGS" "$STAMPS" "$SRC"
case "$WHAT" in core | extra | all) ;; *)
  echo "usage: $0 [core|extra|all]" >&2
  exit 2
  ;;
esac

# One build at a time per cache (set-up scripts of several checkouts may run together).
exec 9>"$CACHE/build.lock"
flock 9

export GOMODCACHE=$CACHE/gomod
export GOCACHE=$CACHE/gocache
export GOFLAGS=-mod=mod
export GOTOOLCHAIN=local
export CGO_ENABLED=0
# Two cores shared with everything else on the machine; one link takes ~2 GiB.
PAR=${LONGHORN_TS_GO_PARALLEL:-2}

KUBE_VERSION=v1.36.3
KUBE_MINOR=36
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0
CSI_SANITY_VERSION=v5.6.0
# The CSI sidecars' versions are pinned in go/csi/go.mod; these only stamp them.
PROVISIONER_VERSION=v6.3.0
ATTACHER_VERSION=v4.12.0
RESIZER_VERSION=v2.2.0
SNAPSHOTTER_VERSION=v8.6.0
HELM_VERSION=v3.22.0
# MinIO tags no semver releases; this is the pseudo-version of its latest commit on the proxy.
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
# local-kms (an AWS KMS API server for tests) has no tags either: its latest commit on the proxy.
LOCAL_KMS_VERSION=v0.0.0-20260228092603-2a5e92d09ab6

STRIP='-s -w'
failed=()

now() { date +%s; }

# recipe_hash NAME INPUT... : hash of the recipe's inputs (files by content, other words as is).
recipe_hash() {
  local x
  for x in "$@"; do
    if [ -f "$x" ]; then sha256sum "$x" | cut -d' ' -f1; else printf '%s\n' "$x"; fi
  done | sha256sum | cut -d' ' -f1
}

# up_to_date NAME HASH BINARY... : the stamp matches and every binary exists.
up_to_date() {
  local name=$1 hash=$2 b
  shift 2
  [ -f "$STAMPS/$name" ] && [ "$(cat "$STAMPS/$name")" = "$hash" ] || return 1
  for b in "$@"; do [ -x "$BIN/$b" ] || return 1; done
}

# step NAME FATAL HASH BINARIES -- COMMAND... : runs COMMAND with its output in $LOGS/NAME.log.
step() {
  local name=$1 fatal=$2 hash=$3 bins=$4
  shift 5
  # shellcheck disable=SC2086
  if up_to_date "$name" "$hash" $bins; then
    echo "build-binaries: $name up to date ($bins)"
    return 0
  fi
  local t0
  t0=$(now)
  echo "build-binaries: building $name ($bins), log: $LOGS/$name.log"
  if "$@" >"$LOGS/$name.log" 2>&1; then
    echo "$hash" >"$STAMPS/$name"
    echo "build-binaries: $name built in $(($(now) - t0)) s"
  else
    echo "build-binaries: $name FAILED after $(($(now) - t0)) s; last lines of $LOGS/$name.log:" >&2
    tail -n 20 "$LOGS/$name.log" >&2 || true
    if [ "$fatal" = 1 ]; then exit 1; fi
    failed+=("$name")
  fi
}

# Wrapper modules are copied into the cache and built there, so a build never rewrites the repo.
stage_module() {
  local mod=$1
  rm -rf "${SRC:?}/$mod"
  mkdir -p "$SRC/$mod"
  cp "$HERE/go/$mod/go.mod" "$SRC/$mod/"
  if [ -f "$HERE/go/$mod/go.sum" ]; then cp "$HERE/go/$mod/go.sum" "$SRC/$mod/"; fi
}

kube_version_flags() {
  local p f=""
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f="$f -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$KUBE_MINOR"
    f="$f -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$f"
}

build_kubernetes() {
  stage_module kubernetes
  cd "$SRC/kubernetes"
  go build -p "$PAR" -trimpath -tags selinux,notest,grpcnotrace \
    -ldflags "$STRIP $(kube_version_flags)" -o "$BIN/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
  "$BIN/kubectl" version --client
}

build_etcd() {
  stage_module etcd
  cd "$SRC/etcd"
  go build -p "$PAR" -trimpath -ldflags "$STRIP" -o "$BIN/etcd" go.etcd.io/etcd/server/v3
  "$BIN/etcd" --version
}

go_install() {
  local pkg=$1 ldflags=${2:-}
  GOBIN=$BIN go install -p "$PAR" -trimpath -ldflags "$STRIP $ldflags" "$pkg"
}

build_kwok() {
  go_install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"
  "$BIN/kwok" --version
  # kwok does nothing without Stages: take its "fast" node and pod stages (plus lease heartbeats)
  # from the same module version.
  local dir
  dir=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  rm -rf "$CACHE/kwok-stages"
  mkdir -p "$CACHE/kwok-stages"
  cp "$dir"/kustomize/stage/node/fast/node-initialize.yaml \
    "$dir"/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    "$dir"/kustomize/stage/pod/fast/pod-*.yaml "$CACHE/kwok-stages/"
  chmod u+w "$CACHE"/kwok-stages/*.yaml
  ls "$CACHE/kwok-stages"
}

build_csi_sanity() {
  go_install "github.com/kubernetes-csi/csi-test/v5/cmd/csi-sanity@$CSI_SANITY_VERSION"
}

build_csi_sidecars() {
  stage_module csi
  cd "$SRC/csi"
  # One `go build` per binary: each gets its own version in main.version (the compiled
  # packages are shared through the build cache, only the links are separate).
  local name pkg version
  while read -r name pkg version; do
    go build -p "$PAR" -trimpath -ldflags "$STRIP -X main.version=$version" -o "$BIN/$name" "$pkg"
    "$BIN/$name" --version
  done <<EOF
csi-provisioner github.com/kubernetes-csi/external-provisioner/v6/cmd/csi-provisioner $PROVISIONER_VERSION
csi-attacher github.com/kubernetes-csi/external-attacher/v4/cmd/csi-attacher $ATTACHER_VERSION
csi-resizer github.com/kubernetes-csi/external-resizer/v2/cmd/csi-resizer $RESIZER_VERSION
csi-snapshotter github.com/kubernetes-csi/external-snapshotter/v8/cmd/csi-snapshotter $SNAPSHOTTER_VERSION
snapshot-controller github.com/kubernetes-csi/external-snapshotter/v8/cmd/snapshot-controller $SNAPSHOTTER_VERSION
EOF
  # The VolumeSnapshot CRDs ship in the client module at the same tag.
  local dir
  dir=$(go list -m -f '{{.Dir}}' github.com/kubernetes-csi/external-snapshotter/client/v8)
  mkdir -p "$CACHE/crds/volumesnapshot"
  cp "$dir"/config/crd/snapshot.storage.k8s.io_*.yaml "$CACHE/crds/volumesnapshot/"
  chmod u+w "$CACHE"/crds/volumesnapshot/*.yaml
  ls "$CACHE/crds/volumesnapshot"
}

build_helm() {
  go_install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  "$BIN/helm" version --short
}

build_minio() {
  go_install "github.com/minio/minio@$MINIO_VERSION"
  "$BIN/minio" --version
}

build_local_kms() {
  go_install "github.com/nsmithuk/local-kms@$LOCAL_KMS_VERSION"
  test -x "$BIN/local-kms"
}

total0=$(now)

if [ "$WHAT" = core ] || [ "$WHAT" = all ]; then
  step kubernetes 1 "$(recipe_hash "$HERE/go/kubernetes/go.mod" "$HERE/go/kubernetes/go.sum" "$KUBE_VERSION" 3)" \
    "kube-apiserver kube-controller-manager kube-scheduler kubectl" -- build_kubernetes
  step etcd 1 "$(recipe_hash "$HERE/go/etcd/go.mod" "$HERE/go/etcd/go.sum" "$ETCD_VERSION" 1)" "etcd" -- build_etcd
  step kwok 1 "$(recipe_hash "$KWOK_VERSION" 2)" "kwok" -- build_kwok
fi
if [ "$WHAT" = extra ] || [ "$WHAT" = all ]; then
  step csi-sanity 0 "$(recipe_hash "$CSI_SANITY_VERSION" 1)" "csi-sanity" -- build_csi_sanity
  step csi-sidecars 0 "$(recipe_hash "$HERE/go/csi/go.mod" "$HERE/go/csi/go.sum" "$PROVISIONER_VERSION $ATTACHER_VERSION $RESIZER_VERSION $SNAPSHOTTER_VERSION" 2)" \
    "csi-provisioner csi-attacher csi-resizer csi-snapshotter snapshot-controller" -- build_csi_sidecars
  step helm 0 "$(recipe_hash "$HELM_VERSION" 1)" "helm" -- build_helm
  step minio 0 "$(recipe_hash "$MINIO_VERSION" 1)" "minio" -- build_minio
  step local-kms 0 "$(recipe_hash "$LOCAL_KMS_VERSION" 1)" "local-kms" -- build_local_kms
fi

echo "build-binaries: done in $(($(now) - total0)) s; binaries in $BIN"
if [ ${#failed[@]} -gt 0 ]; then
  echo "build-binaries: not built: ${failed[*]} (see $LOGS and test/README.md)" >&2
fi
