#!/usr/bin/env bash
# Builds what one REAL node needs (kubelet, containerd + its runc shim + ctr, the CNI plugins,
# crictl, a pause image and a tiny busybox image) into the same cache as build-binaries.sh.
# Not part of the default test set-up (compiling kubelet and containerd takes minutes): run it
# by hand, then test/harness/real-node.sh. Idempotent: a part whose recipe is unchanged and whose
# outputs exist is skipped.
#
#   bash test/harness/build-real-node.sh [chart]
#   (chart: also the chart's images for the real node, see build_chart_images)
#
# kubelet     k8s.io/kubernetes/cmd/kubelet at the control plane's version (go/kubernetes/go.mod)
# containerd  github.com/containerd/containerd/v2 (containerd, containerd-shim-runc-v2, ctr)
# cni         github.com/containernetworking/plugins (bridge, host-local, loopback, portmap)
# crictl      sigs.k8s.io/cri-tools
# images      pause (Kubernetes' build/pause/linux/pause.c from the same module, gcc -static) and
#             busybox (Debian's busybox-static), each as an OCI archive for `ctr images import`
# runc comes from Debian (apt-get install runc); this script installs it if it is missing.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${LONGHORN_TS_CACHE:-$HOME/.cache/longhorn-ts}
BIN=$CACHE/bin
LOGS=$CACHE/logs
STAMPS=$CACHE/stamps
SRC=$CACHE/src
RN=$CACHE/real-node
mkdir -p "$BIN" "$LOGS" "$STAMPS" "$SRC" "$RN/cni-bin" "$RN/images"

exec 9>"$CACHE/build.lock"
flock 9

export GOMODCACHE=$CACHE/gomod
export GOCACHE=$CACHE/gocache
export GOFLAGS=-mod=mod
export GOTOOLCHAIN=local
export CGO_ENABLED=0
PAR=${LONGHORN_TS_GO_PARALLEL:-2}

KUBE_VERSION=v1.36.3
KUBE_MINOR=36
CONTAINERD_VERSION=v2.4.2
CNI_PLUGINS_VERSION=v1.10.0
CRICTL_VERSION=v1.37.0
REGISTRAR_TAG=0.1.0
PAUSE_VERSION=3.10
BUSYBOX_TAG=1.35

STRIP='-s -w'
failed=()
now() { date +%s; }

recipe_hash() {
  local x
  for x in "$@"; do
    if [ -f "$x" ]; then sha256sum "$x" | cut -d' ' -f1; else printf '%s\n' "$x"; fi
  done | sha256sum | cut -d' ' -f1
}

# up_to_date NAME HASH FILE... (paths relative to $CACHE)
up_to_date() {
  local name=$1 hash=$2 f
  shift 2
  [ -f "$STAMPS/$name" ] && [ "$(cat "$STAMPS/$name")" = "$hash" ] || return 1
  for f in "$@"; do [ -e "$CACHE/$f" ] || return 1; done
}

step() {
  local name=$1 hash=$2 outs=$3
  shift 4
  # shellcheck disable=SC2086
  if up_to_date "$name" "$hash" $outs; then
    echo "build-real-node: $name up to date"
    return 0
  fi
  local t0
  t0=$(now)
  echo "build-real-node: building $name, log: $LOGS/$name.log"
  if "$@" >"$LOGS/$name.log" 2>&1; then
    echo "$hash" >"$STAMPS/$name"
    echo "build-real-node: $name built in $(($(now) - t0)) s"
  else
    echo "build-real-node: $name FAILED after $(($(now) - t0)) s; last lines of $LOGS/$name.log:" >&2
    tail -n 20 "$LOGS/$name.log" >&2 || true
    failed+=("$name")
  fi
}

kube_version_flags() {
  local p f=""
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f="$f -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$KUBE_MINOR"
    f="$f -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$f"
}

build_kubelet() {
  # Same wrapper module as the control plane (build-binaries.sh), staged in its own folder.
  rm -rf "${SRC:?}/kubelet"
  mkdir -p "$SRC/kubelet"
  cp "$HERE/go/kubernetes/go.mod" "$HERE/go/kubernetes/go.sum" "$SRC/kubelet/"
  cd "$SRC/kubelet"
  go build -p "$PAR" -trimpath -tags selinux,notest,grpcnotrace \
    -ldflags "$STRIP $(kube_version_flags)" -o "$BIN/kubelet" k8s.io/kubernetes/cmd/kubelet
  "$BIN/kubelet" --version
}

build_containerd() {
  local m=github.com/containerd/containerd/v2 v=$CONTAINERD_VERSION
  local ld="$STRIP -X $m/version.Version=$v -X $m/version.Package=$m"
  GOBIN=$BIN go install -p "$PAR" -trimpath -tags no_btrfs,no_devmapper,no_zfs -ldflags "$ld" \
    "$m/cmd/containerd@$v" "$m/cmd/containerd-shim-runc-v2@$v" "$m/cmd/ctr@$v"
  "$BIN/containerd" --version
}

build_cni() {
  local m=github.com/containernetworking/plugins p
  for p in main/bridge ipam/host-local main/loopback meta/portmap; do
    GOBIN=$RN/cni-bin go install -p "$PAR" -trimpath \
      -ldflags "$STRIP -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$CNI_PLUGINS_VERSION" \
      "$m/plugins/$p@$CNI_PLUGINS_VERSION"
  done
  ls -l "$RN/cni-bin"
}

build_crictl() {
  GOBIN=$BIN go install -p "$PAR" -trimpath \
    -ldflags "$STRIP -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" \
    "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION"
  "$BIN/crictl" --version
}

# csi-node-driver-registrar: github.com/kubernetes-csi/node-driver-registrar is not served by the
# Go module proxy here ("403 Forbidden: This module version is not available"), so a stand-in of
# ours does its job (real-node-registrar/: kubelet's plugin registration API, ~100 lines).
build_registrar() {
  rm -rf "${SRC:?}/real-node-registrar"
  mkdir -p "$SRC/real-node-registrar"
  cp "$HERE"/real-node-registrar/{go.mod,go.sum,main.go} "$SRC/real-node-registrar/"
  cd "$SRC/real-node-registrar"
  go build -p "$PAR" -trimpath -ldflags "$STRIP" -o "$BIN/lh-node-registrar" .
  test -x "$BIN/lh-node-registrar"
}

# oci_archive OUT NAME:TAG ROOTFS CONFIG_JSON_FIELDS ("Entrypoint":[...] or "Cmd":[...]) : writes an OCI image layout tarball of one
# layer (ROOTFS), reproducible (fixed mtimes, sorted names, no owners), for `ctr images import`.
oci_archive() {
  local out=$1 ref=$2 rootfs=$3 entry=$4 w
  w=$(mktemp -d)
  mkdir -p "$w/blobs/sha256"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$w/layer.tar" .
  local diffid layer lsize cfg csize man msize
  diffid=$(sha256sum "$w/layer.tar" | cut -d' ' -f1)
  gzip -n -9 <"$w/layer.tar" >"$w/layer.tgz"
  layer=$(sha256sum "$w/layer.tgz" | cut -d' ' -f1)
  lsize=$(stat -c %s "$w/layer.tgz")
  mv "$w/layer.tgz" "$w/blobs/sha256/$layer"
  rm "$w/layer.tar"
  printf '{"architecture":"amd64","os":"linux","config":{%s,"WorkingDir":"/","Env":["PATH=/bin"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$entry" "$diffid" >"$w/cfg"
  cfg=$(sha256sum "$w/cfg" | cut -d' ' -f1)
  csize=$(stat -c %s "$w/cfg")
  mv "$w/cfg" "$w/blobs/sha256/$cfg"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
    "$cfg" "$csize" "$layer" "$lsize" >"$w/man"
  man=$(sha256sum "$w/man" | cut -d' ' -f1)
  msize=$(stat -c %s "$w/man")
  mv "$w/man" "$w/blobs/sha256/$man"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$w/oci-layout"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$man" "$msize" "$ref" "${ref##*:}" >"$w/index.json"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$w" -cf "$out" oci-layout index.json blobs
  rm -rf "$w"
  echo "$out: $ref manifest sha256:$man"
}

build_images() {
  local pausec r
  pausec=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')/build/pause/linux/pause.c
  r=$(mktemp -d)
  gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_VERSION-longhorn-ts" -o "$r/pause" "$pausec"
  strip "$r/pause"
  oci_archive "$RN/images/pause.tar" "registry.k8s.io/pause:$PAUSE_VERSION" "$r" '"Entrypoint":["/pause"]'
  rm -rf "$r"
  # busybox: Debian's static build, with its applets as links in /bin.
  if [ ! -x /bin/busybox ]; then apt-get install -y --no-install-recommends busybox-static; fi
  r=$(mktemp -d)
  mkdir -p "$r/bin" "$r/tmp" "$r/etc"
  cp /bin/busybox "$r/bin/busybox"
  local a
  for a in $("$r/bin/busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$r/bin/$a"; done
  echo 'root:x:0:0:root:/:/bin/sh' >"$r/etc/passwd"
  echo 'root:x:0:' >"$r/etc/group"
  oci_archive "$RN/images/busybox.tar" "localhost/busybox:$BUSYBOX_TAG" "$r" '"Cmd":["/bin/sh"]'
  rm -rf "$r"
}

# The chart's images for the real node: the CSI sidecars (static binaries from build-binaries.sh
# and the registrar above, each alone in an image named as the chart's values name it) and the
# longhorn-ts node and controller images from buildah's storage (images/build.sh), if built.
build_sidecar_images() {
  local name ver r
  while read -r name ver; do
    [ -x "$BIN/$name" ] || { echo "no $BIN/$name: image not made"; continue; }
    r=$(mktemp -d)
    mkdir -p "$r/tmp"
    cp "$BIN/$name" "$r/$name"
    local ref="registry.k8s.io/sig-storage/$name:$ver"
    [ "$name" = lh-node-registrar ] && ref="localhost/lh-node-registrar:$ver"
    oci_archive "$RN/images/$name.tar" "$ref" "$r" "\"Entrypoint\":[\"/$name\"]"
    rm -rf "$r"
  done <<SIDECARS
csi-provisioner v6.3.0
csi-attacher v4.12.0
csi-resizer v2.2.0
csi-snapshotter v8.6.0
lh-node-registrar $REGISTRAR_TAG
SIDECARS
}

build_chart_images() {
  local img
  for img in node controller; do
    if buildah inspect "localhost/longhorn-ts-$img:0.1.0" >/dev/null 2>&1; then
      rm -f "$RN/images/longhorn-ts-$img.tar"
      buildah push -q "localhost/longhorn-ts-$img:0.1.0" \
        "oci-archive:$RN/images/longhorn-ts-$img.tar:localhost/longhorn-ts-$img:0.1.0"
      ls -l "$RN/images/longhorn-ts-$img.tar"
    else
      echo "no buildah image localhost/longhorn-ts-$img:0.1.0 (sudo bash images/build.sh all)"
    fi
  done
}

if ! command -v runc >/dev/null; then
  echo "build-real-node: installing runc from Debian"
  apt-get install -y --no-install-recommends runc >/dev/null
fi
runc --version | head -1

total0=$(now)
step kubelet "$(recipe_hash "$HERE/go/kubernetes/go.mod" "$HERE/go/kubernetes/go.sum" "$KUBE_VERSION" 1)" \
  "bin/kubelet" -- build_kubelet
step containerd "$(recipe_hash "$CONTAINERD_VERSION" 1)" \
  "bin/containerd bin/containerd-shim-runc-v2 bin/ctr" -- build_containerd
step cni "$(recipe_hash "$CNI_PLUGINS_VERSION" 1)" \
  "real-node/cni-bin/bridge real-node/cni-bin/host-local real-node/cni-bin/loopback real-node/cni-bin/portmap" -- build_cni
step crictl "$(recipe_hash "$CRICTL_VERSION" 1)" "bin/crictl" -- build_crictl
step real-node-images "$(recipe_hash "$KUBE_VERSION $PAUSE_VERSION $BUSYBOX_TAG" "$0" 1)" \
  "real-node/images/pause.tar real-node/images/busybox.tar" -- build_images
step registrar "$(recipe_hash "$HERE/real-node-registrar/go.mod" "$HERE/real-node-registrar/go.sum" "$HERE/real-node-registrar/main.go" 1)" \
  "bin/lh-node-registrar" -- build_registrar
step sidecar-images "$(recipe_hash "$BIN/lh-node-registrar" "$BIN/csi-provisioner" "$BIN/csi-attacher" "$0" 1)" \
  "real-node/images/lh-node-registrar.tar" -- build_sidecar_images
if [ "${1:-}" = chart ]; then
  # Not by default: the node image is 400 MB; the stamp follows buildah's image ids.
  step chart-images "$(recipe_hash "$(buildah images -q --no-trunc 2>/dev/null | sort | tr '\n' ' ')" 1)" \
    "real-node/images/longhorn-ts-node.tar real-node/images/longhorn-ts-controller.tar" -- build_chart_images
fi

echo "build-real-node: done in $(($(now) - total0)) s; binaries in $BIN, CNI plugins in $RN/cni-bin, images in $RN/images"
if [ ${#failed[@]} -gt 0 ]; then
  echo "build-real-node: not built: ${failed[*]} (see $LOGS)" >&2
  exit 1
fi
