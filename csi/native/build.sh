#!/usr/bin/env bash
# Builds lh-nbdfuse (the node plugin's FUSE-over-NBD helper) into the binary cache outside the
# repo ($LONGHORN_TS_CACHE/bin, default ~/.cache/longhorn-ts/bin). Installs its build
# dependencies (libfuse3-dev, libnbd-dev) when their headers are missing. Skips the build when
# the binary is newer than its source.
set -euo pipefail
cd "$(dirname "$0")"
cache="${LONGHORN_TS_CACHE:-$HOME/.cache/longhorn-ts}"
out="$cache/bin/lh-nbdfuse"
if [ -x "$out" ] && [ "$out" -nt lh-nbdfuse.c ]; then
  exit 0
fi
need=()
[ -f /usr/include/fuse3/fuse.h ] || need+=(libfuse3-dev)
[ -f /usr/include/libnbd.h ] || need+=(libnbd-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v cc >/dev/null 2>&1 || need+=(gcc)
if [ ${#need[@]} -gt 0 ]; then
  echo "lh-nbdfuse: installing Debian packages: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
mkdir -p "$cache/bin"
# Built next to the target and renamed, so a running node plugin never sees half a binary.
cc -O2 -Wall -Wextra -o "$out.tmp" lh-nbdfuse.c $(pkg-config --cflags --libs fuse3 libnbd) -lpthread
mv -f "$out.tmp" "$out"
