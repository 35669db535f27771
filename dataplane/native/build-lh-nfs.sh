#!/usr/bin/env bash
# Builds lh-nfs (the NFS backup target's user-space client, libnfs) into the binary cache outside
# the repo ($LONGHORN_TS_CACHE/bin, default ~/.cache/longhorn-ts/bin), and installs what the NFS
# tests need: libnfs-dev to build, NFS-Ganesha + rpcbind to serve a real export. Skips the build
# when the binary is newer than its source.
set -euo pipefail
cd "$(dirname "$0")"
cache="${LONGHORN_TS_CACHE:-$HOME/.cache/longhorn-ts}"
out="$cache/bin/lh-nfs"
need=()
[ -f /usr/include/nfsc/libnfs.h ] || need+=(libnfs-dev)
command -v ganesha.nfsd >/dev/null 2>&1 || need+=(nfs-ganesha)
ls /usr/lib/*/ganesha/libfsalvfs.so >/dev/null 2>&1 || need+=(nfs-ganesha-vfs)
command -v rpcbind >/dev/null 2>&1 || need+=(rpcbind)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v cc >/dev/null 2>&1 || need+=(gcc)
if [ ${#need[@]} -gt 0 ]; then
  echo "lh-nfs: installing Debian packages: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ -x "$out" ] && [ "$out" -nt lh-nfs.c ]; then
  exit 0
fi
mkdir -p "$cache/bin"
cc -O2 -Wall -Wextra -o "$out.tmp" lh-nfs.c $(pkg-config --cflags --libs libnfs)
mv -f "$out.tmp" "$out"
