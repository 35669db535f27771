#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine, idempotently.
# Caches live outside the repo (LONGHORN_TS_CACHE, default ~/.cache/longhorn-ts).
set -euo pipefail
cd "$(dirname "$0")/.."
export LONGHORN_TS_CACHE="${LONGHORN_TS_CACHE:-$HOME/.cache/longhorn-ts}"
mkdir -p "$LONGHORN_TS_CACHE"

# Debian packages: the real block clients and anchors the tests and benchmarks use.
need_apt=()
for pair in nbdinfo:libnbd-bin nbdkit:nbdkit fio:fio qemu-io:qemu-utils mkfs.ext4:e2fsprogs \
  mkfs.xfs:xfsprogs fusermount3:fuse3 losetup:mount; do
  cmd=${pair%%:*} pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# npm packages (the npm cache is outside the repo by default: ~/.npm).
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

# Kubernetes binaries built from the Go module proxy (cached under $LONGHORN_TS_CACHE).
if [ -x test/harness/build-binaries.sh ] && [ "${LONGHORN_TS_SKIP_K8S:-}" != 1 ]; then
  bash test/harness/build-binaries.sh
fi

bash dataplane/native/build.sh # replica store's N-API addon (SEEK_DATA/HOLE, PUNCH_HOLE); no-op if built
bash csi/native/build.sh # lh-nbdfuse, the node plugin's growable FUSE-over-NBD file; no-op if built
bash dataplane/native/build-lh-nfs.sh # lh-nfs (NFS backup targets through libnfs) + NFS-Ganesha for its tests

npx tsc -b
d="${KUBECTL_PLUGIN_DIR:-/usr/local/bin}"; { mkdir -p "$d" 2>/dev/null && [ -w "$d" ]; } || { d="$HOME/.local/bin"; mkdir -p "$d"; }; for b in kubectl-longhorn kubectl_complete-longhorn; do ln -sfn "$PWD/plugins/kubectl-longhorn/bin/$b" "$d/$b"; done # `kubectl longhorn` and its completion on PATH
