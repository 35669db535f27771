#!/usr/bin/env bash
# Builds the longhorn-ts images without Docker and without a registry: a Debian bookworm root
# file system made by debootstrap from Debian's mirror (with the packages each image needs),
# imported into buildah as a base image, then node.Containerfile / controller.Containerfile add
# Node.js (the builder's own node binary, 20.x) and the compiled project with its production
# npm dependencies (npm ci --omit=dev).
#
#   sudo bash images/build.sh [node|controller|all]     (default all)
#
# Needs root, debootstrap, buildah (apt-get install buildah debootstrap), `npx tsc -b` run
# before, and for the node image lh-nbdfuse built (bash csi/native/build.sh). Work files go to
# $LONGHORN_TS_IMAGE_WORK (default /var/tmp/longhorn-ts-images); images land in buildah's local
# storage as localhost/longhorn-ts-node:TAG and localhost/longhorn-ts-controller:TAG.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${LONGHORN_TS_IMAGE_WORK:-/var/tmp/longhorn-ts-images}
tag=${LONGHORN_TS_IMAGE_TAG:-$(node -p "require('$repo/package.json').version")}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
cache=${LONGHORN_TS_CACHE:-$HOME/.cache/longhorn-ts}
what=${1:-all}

# Debian packages per image. Node (copied in) needs libstdc++6. The node image attaches volumes:
# lh-nbdfuse (libnbd0, libfuse3-3, fuse3), loop devices and mounts (mount, util-linux), file
# systems (e2fsprogs, xfsprogs).
controller_packages=ca-certificates,libstdc++6
node_packages=$controller_packages,libnbd0,libfuse3-3,fuse3,mount,util-linux,e2fsprogs,xfsprogs

die() { echo "images: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (debootstrap and buildah's chroot isolation need it)"
for tool in debootstrap buildah node npm; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install debootstrap buildah)"
done
case "$what" in node|controller|all) ;; *) die "unknown image '$what': node, controller or all" ;; esac
[ -f "$repo/operator/dist/main.js" ] || die "the workspaces are not built: run npx tsc -b in $repo"

# A base image from a debootstrap root file system; rebuilt only when the package list changes.
base_image() {
  local name=$1 packages=$2
  local dir="$work/rootfs-$name" stamp="$work/rootfs-$name.packages"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$packages" ]; then
    rm -rf "$dir"
    echo "images: debootstrap $suite ($packages) into $dir"
    debootstrap --variant=minbase --include="$packages" "$suite" "$dir" "$mirror" >"$work/debootstrap-$name.log"
    # What the image does not need at run time: apt's lists and caches, docs, man pages.
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb \
      "$dir"/usr/share/doc/* "$dir"/usr/share/man/*
    echo "$packages" >"$stamp"
    buildah rmi -f "localhost/longhorn-ts-$name-base:$suite" >/dev/null 2>&1 || true
  fi
  if ! buildah inspect --type image "localhost/longhorn-ts-$name-base:$suite" >/dev/null 2>&1; then
    local ctr mnt
    ctr=$(buildah from scratch)
    mnt=$(buildah mount "$ctr")
    cp -a "$dir"/. "$mnt"/
    buildah umount "$ctr" >/dev/null
    buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
    buildah commit --rm "$ctr" "localhost/longhorn-ts-$name-base:$suite" >/dev/null
  fi
}

# The build context: node, the compiled workspaces and their production dependencies.
stage() {
  local ctx="$work/context"
  rm -rf "$ctx"
  mkdir -p "$ctx/app" "$ctx/bin"
  cp "$(readlink -f "$(command -v node)")" "$ctx/bin/node"
  cp "$repo/package.json" "$repo/package-lock.json" "$ctx/app/"
  local ws
  for ws in $(node -p "require('$repo/package.json').workspaces.join(' ')"); do
    mkdir -p "$ctx/app/$ws"
    cp "$repo/$ws/package.json" "$ctx/app/$ws/"
    [ -d "$repo/$ws/dist" ] && cp -a "$repo/$ws/dist" "$ctx/app/$ws/"
  done
  # What the code reads next to dist/: the data plane's N-API addon (dataplane/native/build.sh),
  # the gRPC protos, the CRDs api reads.
  mkdir -p "$ctx/app/dataplane/native/build"
  cp -a "$repo/dataplane/native/build/Release" "$ctx/app/dataplane/native/build/"
  cp -a "$repo/dataplane/proto" "$ctx/app/dataplane/"
  cp -a "$repo/csi/proto" "$ctx/app/csi/"
  cp -a "$repo/api/crds" "$ctx/app/api/"
  rm -rf "$ctx/app/test/dist" "$ctx/app/plugins"/*/dist
  (cd "$ctx/app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline >/dev/null)
  [ -x "$cache/bin/lh-nbdfuse" ] && cp "$cache/bin/lh-nbdfuse" "$ctx/bin/"
  du -sh "$ctx/app" | sed 's/^/images: context /'
}

build() {
  local name=$1
  buildah bud --isolation chroot --layers=false -f "$repo/images/$name.Containerfile" \
    --build-arg "BASE=localhost/longhorn-ts-$name-base:$suite" \
    -t "localhost/longhorn-ts-$name:$tag" "$work/context"
  echo "images: built localhost/longhorn-ts-$name:$tag"
}

mkdir -p "$work"
stage
if [ "$what" = node ] || [ "$what" = all ]; then
  [ -x "$work/context/bin/lh-nbdfuse" ] || die "lh-nbdfuse is not built: bash csi/native/build.sh"
  base_image node "$node_packages"
  build node
fi
if [ "$what" = controller ] || [ "$what" = all ]; then
  base_image controller "$controller_packages"
  build controller
fi
buildah images --filter reference='localhost/longhorn-ts-*'
