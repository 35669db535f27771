#!/usr/bin/env bash
# Builds the fsext N-API addon with the node-gyp bundled in npm, against the Node headers already
# on the machine (--nodedir), so nothing is downloaded. Skips the build when the addon is newer
# than its sources.
set -euo pipefail
cd "$(dirname "$0")"
fresh=1
for out in build/Release/fsext.node build/Release/xts.node build/Release/zerocopy.node; do
  if ! { [ -f "$out" ] && [ "$out" -nt fsext.c ] && [ "$out" -nt xts.c ] && [ "$out" -nt zerocopy.c ] && [ "$out" -nt napi-util.h ] && [ "$out" -nt binding.gyp ]; }; then
    fresh=0
  fi
done
[ "$fresh" = 1 ] && exit 0
node_prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
nodedir=""
for d in "$node_prefix" /usr /usr/local; do
  if [ -f "$d/include/node/node_api.h" ]; then nodedir=$d; break; fi
done
if [ -z "$nodedir" ]; then
  echo "native: Node headers (include/node/node_api.h) not found" >&2
  exit 1
fi
gyp=""
for d in "$(npm root -g 2>/dev/null)/npm/node_modules/node-gyp" /usr/lib/node_modules/npm/node_modules/node-gyp \
  "$node_prefix/lib/node_modules/npm/node_modules/node-gyp"; do
  if [ -f "$d/bin/node-gyp.js" ]; then gyp=$d/bin/node-gyp.js; break; fi
done
if [ -n "$gyp" ]; then
  node "$gyp" rebuild --nodedir="$nodedir" --loglevel=warn >/dev/null
else
  # No node-gyp: each addon is one C file, so a direct compile gives the same result.
  mkdir -p build/Release
  cc -O2 -Wall -shared -fPIC -DNODE_GYP_MODULE_NAME=fsext -I"$nodedir/include/node" fsext.c -o build/Release/fsext.node
  cc -O2 -Wall -shared -fPIC -DNODE_GYP_MODULE_NAME=zerocopy -I"$nodedir/include/node" zerocopy.c -o build/Release/zerocopy.node
  cc -O2 -Wall -shared -fPIC -DNODE_GYP_MODULE_NAME=xts -I"$nodedir/include/node" xts.c -o build/Release/xts.node -ldl
fi
