#!/usr/bin/env bash
# One REAL Kubernetes node on this machine, joined to a local control plane: containerd (runc from
# Debian, overlayfs, CNI bridge) and a kubelet, both built by test/harness/build-real-node.sh.
# Root only; REAL_NODE_OCI_RUNTIME=crun runs crun instead of runc. Not used by the default test
# suite (the simulated kwok nodes stay the default).
#
#   bash test/harness/real-node.sh up --cluster DIR [--dir NODE_DIR] [--name NAME]
#        DIR: a `longhorn-local cluster up --dir DIR` folder (its kubeconfig and pki/ are used)
#   bash test/harness/real-node.sh smoke [--dir NODE_DIR]   a busybox pod: Running, logs, exec
#   bash test/harness/real-node.sh chart [--dir NODE_DIR]   helm install of charts/longhorn-ts onto it
#        (images from `build-real-node.sh chart`)
#   bash test/harness/real-node.sh pvc [--dir NODE_DIR]     a PVC (StorageClass longhorn) in a pod
#   bash test/harness/real-node.sh upgrade [--dir NODE_DIR] after pvc: helm upgrade (node image re-tagged)
#        with the volume mounted and written; mount, Longhorn objects, dmesg, data checked (issue 14)
#        (REAL_NODE_UPGRADE_STRATEGY=RollingUpdate|OnDelete overrides node.updateStrategy)
#   bash test/harness/real-node.sh uninstall [--dir NODE_DIR] helm uninstall with the volume, then without
#   bash test/harness/real-node.sh down [--dir NODE_DIR]    stops it all, unmounts, removes cgroups
#   bash test/harness/real-node.sh demo [--dir NODE_DIR]    cluster up (1 kwok node, --no-longhorn)
#        + up + smoke (+ chart + pvc when the chart images are built) + down + cluster down
#        (needs the repository's set-up done: `npx tsc -b`)
#
# The node is named `localhost` by default: the API server reaches a kubelet through the node's
# Hostname address first, and `localhost` keeps its exec/logs traffic on the loopback (kubelet
# refuses a loopback --node-ip, so the InternalIP is the machine's own address).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${LONGHORN_TS_CACHE:-$HOME/.cache/longhorn-ts}
BIN=$CACHE/bin
RN=$CACHE/real-node
CMD=${1:-}
shift || true
DIR=/tmp/lh-real-node
CLUSTER=""
NAME=localhost
while [ $# -gt 0 ]; do
  case "$1" in
  --dir) DIR=$2; shift 2 ;;
  --cluster) CLUSTER=$2; shift 2 ;;
  --name) NAME=$2; shift 2 ;;
  *) echo "real-node: unknown argument $1" >&2; exit 2 ;;
  esac
done
DIR=$(mkdir -p "$DIR" && cd "$DIR" && pwd)
CTRD=$DIR/containerd
SOCK=$CTRD/containerd.sock
KUBECONFIG_NODE=$DIR/kubelet.kubeconfig
BRIDGE=lhrn0
SUBNET=${REAL_NODE_POD_SUBNET:-10.88.0.0/24}
# The OCI runtime under containerd's runc shim: runc (default) or crun, both from Debian.
OCI_RUNTIME=${REAL_NODE_OCI_RUNTIME:-runc}
# The harness's service range (test/src/harness/kube-apiserver.ts): the pods' only route off
# their subnet, through the bridge (no default route).
SERVICE_RANGE=10.0.0.0/24
export PATH=$BIN:$PATH

log() { echo "real-node: $*"; }
kc() { kubectl --kubeconfig "$DIR/admin.kubeconfig" "$@"; }
ctr_() { ctr --address "$SOCK" "$@"; }
crictl_() { crictl --config "$DIR/crictl.yaml" --runtime-endpoint "unix://$SOCK" --image-endpoint "unix://$SOCK" --timeout 30s "$@"; }

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local n=$1 what=$2 i
  shift 2
  for ((i = 0; i < n; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  log "timed out after ${n}s waiting for $what" >&2
  return 1
}

start_bg() { # start_bg NAME LOGFILE COMMAND... : a new session, pid in $DIR/NAME.pid
  local name=$1 logf=$2
  shift 2
  setsid "$@" </dev/null >"$logf" 2>&1 &
  echo $! >"$DIR/$name.pid"
}

write_containerd_config() {
  mkdir -p "$CTRD/root" "$CTRD/state" "$DIR/cni/net.d" "$DIR/cni/ipam"
  cat >"$CTRD/config.toml" <<EOF
version = 3
root = "$CTRD/root"
state = "$CTRD/state"

[grpc]
  address = "$SOCK"

[ttrpc]
  address = "$SOCK.ttrpc"

[plugins]
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = 'registry.k8s.io/pause:3.10'

  [plugins.'io.containerd.cri.v1.runtime']
    # This VM's root has no CAP_SYS_RESOURCE (not even in its bounding set), so runc cannot
    # lower a sandbox's oom_score_adj to kubelet's -998 ("failed to update
    # /proc/self/oom_score_adj: Permission denied"): keep it at containerd's own value or above.
    restrict_oom_score_adj = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = '$(command -v "$OCI_RUNTIME")'
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ['$RN/cni-bin']
      conf_dir = '$DIR/cni/net.d'

  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = '127.0.0.1'
    stream_server_port = '0'
EOF
  # A bridge on the host, no default route, no masquerade, no port maps: pods reach this
  # machine only.
  cat >"$DIR/cni/net.d/10-lh-real-node.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "lh-real-node",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$SUBNET" }]],
        "routes": [{ "dst": "$SERVICE_RANGE" }],
        "dataDir": "$DIR/cni/ipam"
      }
    }
  ]
}
EOF
}

write_kubelet_config() {
  mkdir -p "$DIR/kubelet" "$DIR/pod-logs" "$DIR/kubelet-pki"
  cat >"$DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This VM has cgroup v1 (hybrid); kubelet >= 1.35 refuses it unless told otherwise.
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$SOCK
address: 127.0.0.1
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous:
    enabled: true
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
failSwapOn: false
podLogsDir: $DIR/pod-logs
resolvConf: /etc/resolv.conf
clusterDomain: cluster.local
serializeImagePulls: false
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
}

# A client certificate for system:node:NAME (group system:nodes), signed by the cluster's CA,
# bound to the built-in ClusterRole system:node (the API server runs RBAC only).
write_node_credentials() {
  local pki=$CLUSTER/pki p=$DIR/kubelet-pki server
  server=$(kubectl --kubeconfig "$CLUSTER/kubeconfig" config view --minify -o jsonpath='{.clusters[0].cluster.server}')
  cp "$CLUSTER/kubeconfig" "$DIR/admin.kubeconfig"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$p/node.key" -subj "/O=system:nodes/CN=system:node:$NAME" \
    -out "$p/node.csr" 2>/dev/null
  openssl x509 -req -in "$p/node.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 2 -out "$p/node.crt" 2>/dev/null
  kubectl config --kubeconfig "$KUBECONFIG_NODE" set-cluster local --server="$server" \
    --certificate-authority="$pki/ca.crt" --embed-certs=true >/dev/null
  kubectl config --kubeconfig "$KUBECONFIG_NODE" set-credentials node --client-certificate="$p/node.crt" \
    --client-key="$p/node.key" --embed-certs=true >/dev/null
  kubectl config --kubeconfig "$KUBECONFIG_NODE" set-context node --cluster=local --user=node >/dev/null
  kubectl config --kubeconfig "$KUBECONFIG_NODE" use-context node >/dev/null
  kc create clusterrolebinding "lh-real-node-$NAME" --clusterrole=system:node --user="system:node:$NAME" \
    --dry-run=client -o yaml | kc apply -f - >/dev/null
}

# kubelet sets these kernel tunables at start (vm.overcommit_memory=1, kernel.panic=10,
# kernel.panic_on_oops=1, ...): keep the machine's values and put them back in `down`.
SYSCTLS="vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes"
save_sysctls() {
  [ -f "$DIR/sysctl.orig" ] || sysctl $SYSCTLS >"$DIR/sysctl.orig"
}
restore_sysctls() {
  [ -f "$DIR/sysctl.orig" ] || return 0
  sed 's/ = /=/' "$DIR/sysctl.orig" | xargs sysctl -q -w && rm -f "$DIR/sysctl.orig"
}

# The pod network's edges. Pods reach the API server at the `kubernetes` Service's address
# (10.0.0.1:443, the harness's service range; its serving certificate names that address) through
# a DNAT to the API server's loopback port: a one-rule stand-in for kube-proxy. Nothing from a pod
# is forwarded off the bridge (no masquerade, FORWARD dropped), so pods reach this machine only.
API_VIP=10.0.0.1
RULE_TAG=lh-real-node
net_up() {
  local port=$1
  ip link show "$BRIDGE" >/dev/null 2>&1 || ip link add "$BRIDGE" type bridge
  ip link set "$BRIDGE" up
  sysctl -q -w "net.ipv4.conf.$BRIDGE.route_localnet=1"
  iptables -t nat -A PREROUTING -i "$BRIDGE" -d "$API_VIP/32" -p tcp --dport 443 \
    -m comment --comment "$RULE_TAG" -j DNAT --to-destination "127.0.0.1:$port"
  iptables -I FORWARD -i "$BRIDGE" ! -o "$BRIDGE" -m comment --comment "$RULE_TAG" -j DROP
  iptables -I FORWARD -o "$BRIDGE" ! -i "$BRIDGE" -m comment --comment "$RULE_TAG" -j DROP
}
net_down() {
  local t rule
  for t in nat filter; do
    iptables -t "$t" -S | grep -- "--comment $RULE_TAG" | sed 's/^-A /-D /' | while read -r rule; do
      eval iptables -t "$t" "$rule" || true
    done
  done
  ip link del "$BRIDGE" 2>/dev/null || true
  # What kubelet adds to iptables (its canary chains and KUBE-FIREWALL): nothing else here uses them.
  local ipt c
  for ipt in iptables ip6tables; do
    for t in filter nat mangle; do
      "$ipt" -t "$t" -D INPUT -j KUBE-FIREWALL 2>/dev/null || true
      "$ipt" -t "$t" -D OUTPUT -j KUBE-FIREWALL 2>/dev/null || true
      for c in KUBE-FIREWALL KUBE-KUBELET-CANARY KUBE-IPTABLES-HINT; do
        "$ipt" -t "$t" -F "$c" 2>/dev/null && "$ipt" -t "$t" -X "$c" 2>/dev/null || true
      done
    done
  done
}

cmd_up() {
  [ "$(id -u)" = 0 ] || { log "must run as root" >&2; exit 1; }
  [ -n "$CLUSTER" ] || { log "up needs --cluster DIR (a longhorn-local cluster folder)" >&2; exit 2; }
  CLUSTER=$(cd "$CLUSTER" && pwd)
  for b in kubelet containerd containerd-shim-runc-v2 ctr crictl kubectl; do
    [ -x "$BIN/$b" ] || { log "missing $BIN/$b: run test/harness/build-real-node.sh" >&2; exit 1; }
  done
  echo "$CLUSTER" >"$DIR/cluster"
  echo "$NAME" >"$DIR/name"
  write_containerd_config
  write_kubelet_config
  write_node_credentials
  printf "runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 30\n" "$SOCK" "$SOCK" >"$DIR/crictl.yaml"

  local port
  port=$(kubectl --kubeconfig "$CLUSTER/kubeconfig" config view --minify -o jsonpath='{.clusters[0].cluster.server}' | sed 's#.*:##')
  net_up "$port"
  save_sysctls

  command -v "$OCI_RUNTIME" >/dev/null || { log "no $OCI_RUNTIME: apt-get install $OCI_RUNTIME" >&2; exit 1; }
  log "containerd $("$BIN/containerd" --version | awk '{print $3}') with $("$OCI_RUNTIME" --version | head -1)"
  start_bg containerd "$DIR/containerd.log" "$BIN/containerd" --config "$CTRD/config.toml"
  wait_for 30 "containerd's socket" ctr_ version
  local img
  for img in pause busybox; do
    ctr_ -n k8s.io images import --local "$RN/images/$img.tar" >/dev/null
  done
  ctr_ -n k8s.io images ls -q | sed 's/^/real-node: image /'

  log "kubelet $("$BIN/kubelet" --version | awk '{print $2}') as node $NAME"
  start_bg kubelet "$DIR/kubelet.log" "$BIN/kubelet" --config="$DIR/kubelet.yaml" \
    --kubeconfig="$KUBECONFIG_NODE" --root-dir="$DIR/kubelet" --cert-dir="$DIR/kubelet-pki" \
    --hostname-override="$NAME" --v=2
  wait_for 120 "node $NAME Ready" kc wait --for=condition=Ready "node/$NAME" --timeout=1s
  kc get node "$NAME" -o wide
}

cmd_smoke() {
  local pod=real-node-smoke
  kc delete pod "$pod" --ignore-not-found --wait=true >/dev/null
  kc apply -f - <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $pod
  namespace: default
spec:
  nodeName: $(cat "$DIR/name")
  restartPolicy: Never
  containers:
    - name: main
      image: localhost/busybox:1.35
      imagePullPolicy: Never
      command: ["/bin/sh", "-c", "echo hello from a real container; cat /proc/1/cgroup | head -3; exec sleep 3600"]
EOF
  kc wait --for=condition=Ready "pod/$pod" --timeout=120s
  kc get pod "$pod" -o wide
  log "logs:"
  kc logs "$pod"
  log "exec:"
  kc exec "$pod" -- /bin/sh -c 'echo "pid 1: $(cat /proc/1/cmdline | tr "\0" " ")"; hostname; ip addr show eth0 2>/dev/null | grep inet || true; ls /var/run/secrets/kubernetes.io/serviceaccount; echo "API at $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT:"; echo | nc -w 3 $KUBERNETES_SERVICE_HOST $KUBERNETES_SERVICE_PORT && echo "TCP connect OK"'
  crictl_ ps
  kc delete pod "$pod" --wait=true
}

stop_pid() { # stop_pid NAME : SIGTERM, then SIGKILL after 20 s
  local f=$DIR/$1.pid p i
  [ -f "$f" ] || return 0
  p=$(cat "$f")
  if kill -0 "$p" 2>/dev/null; then
    kill "$p" 2>/dev/null || true
    for ((i = 0; i < 20; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 1; done
    kill -9 "$p" 2>/dev/null || true
  fi
  rm -f "$f"
}

cmd_down() {
  local name
  name=$(cat "$DIR/name" 2>/dev/null || echo "$NAME")
  if [ -f "$DIR/admin.kubeconfig" ] && [ -f "$DIR/kubelet.pid" ] && kc get node "$name" >/dev/null 2>&1; then
    # Let the kubelet stop the pods itself (volumes unmounted, sandboxes torn down): the users
    # of volumes first, while the CSI node plugin still runs to unstage them.
    local ns
    for ns in $(kc get ns -o name | sed 's#namespace/##' | grep -vx longhorn-system); do
      kc -n "$ns" delete pods --field-selector "spec.nodeName=$name" --wait=true --timeout=90s >/dev/null 2>&1 || true
    done
    local i
    for ((i = 0; i < 60; i++)); do
      [ -z "$(kc get volumeattachments -o jsonpath="{.items[?(@.spec.nodeName=='$name')].metadata.name}" 2>/dev/null)" ] && break
      sleep 2
    done
    # The chart's own pods are not deleted (their DaemonSet and Deployment would make them
    # again): they stop with the containers below.
  fi
  stop_pid kubelet
  local netns=""
  if [ -S "$SOCK" ]; then
    # The sandboxes' network namespaces: containerd removes them with the sandboxes; any left
    # after that are unmounted below.
    # shellcheck disable=SC2046 # one argument per pod id
    netns=$(crictl_ inspectp $(crictl_ pods -q 2>/dev/null) 2>/dev/null | sed -n 's#.*"path": "\(/var/run/netns/cni-[^"]*\)".*#\1#p' | sort -u || true)
    crictl_ rm -fa >/dev/null 2>&1 || true
    # shellcheck disable=SC2046
    crictl_ stopp $(crictl_ pods -q 2>/dev/null) >/dev/null 2>&1 || true
    crictl_ rmp -fa >/dev/null 2>&1 || true
  fi
  stop_pid containerd
  # Shims outlive containerd: end those of this node (their command line names our socket).
  local p
  for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $SOCK" || true); do kill "$p" 2>/dev/null || true; done
  sleep 1
  for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $SOCK" || true); do kill -9 "$p" 2>/dev/null || true; done
  # Mounts under the node's folder (overlay rootfs, shm, kubelet volumes), deepest first.
  local m
  for m in $(awk -v d="$DIR/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" || true
  done
  for m in $netns; do
    if [ -e "$m" ]; then umount "$m" 2>/dev/null || true; rm -f "$m"; fi
  done
  # Loop devices over files under the node's folder (a volume the CSI plugin did not detach).
  local l
  for l in $(losetup -nO NAME,BACK-FILE 2>/dev/null | awk -v d="$DIR/" 'index($2, d) == 1 {print $1}'); do
    losetup -d "$l" || true
  done
  net_down
  restore_sysctls
  # kubelet's cgroups (cgroupfs driver): kubepods in every v1 hierarchy, deepest first.
  local c
  for c in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/*/kubepods.slice /sys/fs/cgroup/unified/kubepods; do
    [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  if [ -f "$DIR/admin.kubeconfig" ]; then
    kc delete node "$name" --ignore-not-found >/dev/null 2>&1 || true
    kc delete clusterrolebinding "lh-real-node-$name" --ignore-not-found >/dev/null 2>&1 || true
  fi
  log "down; mounts left under $DIR: $(awk -v d="$DIR/" 'index($5, d) == 1' /proc/self/mountinfo | wc -l), loop devices: $(losetup -nO BACK-FILE 2>/dev/null | grep -c "^$DIR/" || true)"
}

# The chart (charts/longhorn-ts) with its pods on the real node: images from
# `build-real-node.sh chart` imported into containerd, webhooks and the scheduler extender off
# (their Services have no kube-proxy or DNS behind them here), one replica per volume.
cmd_chart() {
  local name img
  name=$(cat "$DIR/name")
  for img in "$RN"/images/csi-*.tar "$RN"/images/lh-node-registrar.tar "$RN"/images/longhorn-ts-*.tar; do
    [ -f "$img" ] || continue
    log "importing $(basename "$img")"
    ctr_ -n k8s.io images import --local "$img" 2>&1 | grep -v DEPRECATION || true
  done
  helm --kubeconfig "$DIR/admin.kubeconfig" upgrade --install longhorn-ts "$REPO/charts/longhorn-ts" \
    -n longhorn-system --create-namespace \
    --set image.pullPolicy=Never --set image.csiPullPolicy=Never \
    --set image.csi.nodeDriverRegistrar=localhost/lh-node-registrar:0.1.0 \
    --set webhook.enabled=false --set schedulerExtender.enabled=false \
    --set volumeSnapshotClasses.create=false \
    --set "csi.kubeletRootDir=$DIR/kubelet" --set "node.dataPath=$DIR/longhorn" \
    --set "node.nodeSelector.kubernetes\.io/hostname=$name" \
    --set "csi.controller.nodeSelector.kubernetes\.io/hostname=$name" \
    --set persistence.defaultClassReplicaCount=1 --set defaultSettings.defaultReplicaCount=1 \
    --set defaultSettings.storageMinimalAvailablePercentage=5
  # (this VM's disk has ~21% free: under Longhorn's default 25% no replica is scheduled)
  local i
  for ((i = 0; i < 120; i++)); do
    [ "$(kc -n longhorn-system get pods -o jsonpath='{range .items[*]}{.status.containerStatuses[*].ready}{" "}{end}' | grep -c false)" = 0 ] &&
      [ -n "$(kc -n longhorn-system get pods -o name)" ] && break
    sleep 2
  done
  kc -n longhorn-system get pods -o wide
}

# A PVC of StorageClass longhorn (one replica, on this node) in a busybox pod: written, read back.
cmd_pvc() {
  kc apply -f - <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: real-node-pvc, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: longhorn
  resources: {requests: {storage: 256Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: real-node-pvc, namespace: default}
spec:
  nodeName: $(cat "$DIR/name")
  containers:
    - name: main
      image: localhost/busybox:1.35
      imagePullPolicy: Never
      command: ["/bin/sh", "-c", "echo written-in-a-real-container > /data/hello; sync; exec sleep 3600"]
      volumeMounts: [{name: data, mountPath: /data}]
  volumes:
    - name: data
      persistentVolumeClaim: {claimName: real-node-pvc}
EOF
  kc wait --for=condition=Ready pod/real-node-pvc --timeout=180s
  kc get pvc,pod real-node-pvc -o wide
  kc -n longhorn-system get lhv,lhr,lhe
  kc exec real-node-pvc -- sh -c 'cat /data/hello; grep " /data " /proc/mounts; df -h /data'
  findmnt -rn -o TARGET,SOURCE,FSTYPE | grep "^$DIR/" | grep "kubernetes.io~csi\|/globalmount" || true
}

# Issue 14's upgrade experiment, on the node `pvc` made (its pod real-node-pvc running, the chart
# installed by `chart`): 16 MiB of random data written and hashed, a writer appending a line a
# second to /data/ticks (its errors in the container's /tmp/ticks.err), then `helm upgrade` with
# the node image re-tagged (the same image under tag $UPGRADE_TAG, so the pod template changes).
# Under updateStrategy RollingUpdate the DaemonSet replaces the node pod at once; under OnDelete
# (the chart's default) nothing moves until the documented procedure (charts/longhorn-ts/README.md)
# is followed, which this does: the volume's pod deleted (volume detached), the node pod deleted,
# the new one Ready, the volume's pod made again. Either way the mount, the Longhorn objects,
# dmesg and the data are checked after, and the data again in a fresh pod.
UPGRADE_TAG=${REAL_NODE_UPGRADE_TAG:-0.1.0-upgrade}
snapshot_state() { # snapshot_state LABEL
  log "--- $1 ($(date -u +%T))"
  kc -n longhorn-system get pods -l app.kubernetes.io/component=node -o wide 2>&1 || true
  kc -n longhorn-system get lhv,lhe,lhr 2>&1 || true
  kc get pod real-node-pvc -o wide 2>&1 || true
  losetup -nO NAME,BACK-FILE 2>/dev/null | grep "$DIR/" || echo "(no loop device over $DIR)"
}
cmd_upgrade() {
  local pod=real-node-pvc ns=longhorn-system strategy old new before after i extra=()
  kc get pod "$pod" >/dev/null || { log "no pod $pod: run \`real-node.sh pvc\` first" >&2; return 1; }
  [ -n "${REAL_NODE_UPGRADE_STRATEGY:-}" ] && extra=(--set "node.updateStrategy=$REAL_NODE_UPGRADE_STRATEGY")
  dmesg | tail -1 >"$DIR/dmesg.mark" || true
  local loopdev
  loopdev=$(losetup -nO NAME,BACK-FILE 2>/dev/null | awk -v d="$DIR/" 'index($2, d) == 1 {print $1}' | head -1)
  loopdev=${loopdev#/dev/}
  log "the volume's loop device: ${loopdev:-none}"
  before=$(kc exec "$pod" -- sh -c 'dd if=/dev/urandom of=/data/before.bin bs=1M count=16 2>/dev/null && sync && sha256sum /data/before.bin' | awk '{print $1}')
  log "before.bin sha256 $before"
  # shellcheck disable=SC2016 # expanded by the container's shell
  kc exec "$pod" -- sh -c 'rm -f /tmp/ticks.err; (i=0; while :; do i=$((i+1)); echo "$i $(date +%T)" >>/data/ticks || echo "$(date +%T) write $i failed" >>/tmp/ticks.err; sleep 1; done) >/dev/null 2>>/tmp/ticks.err &'
  old=$(kc -n "$ns" get pods -l app.kubernetes.io/component=node -o jsonpath='{.items[0].metadata.name}')
  snapshot_state "before the upgrade (node pod $old)"
  ctr_ -n k8s.io images tag --force localhost/longhorn-ts-node:0.1.0 "localhost/longhorn-ts-node:$UPGRADE_TAG" 2>&1 | grep -v DEPRECATION || true
  log "helm upgrade --reuse-values --set image.node.tag=$UPGRADE_TAG ${extra[*]}"
  helm --kubeconfig "$DIR/admin.kubeconfig" upgrade longhorn-ts "$REPO/charts/longhorn-ts" -n "$ns" \
    --reuse-values --set "image.node.tag=$UPGRADE_TAG" "${extra[@]}" >/dev/null
  strategy=$(kc -n "$ns" get ds longhorn-ts-node -o jsonpath='{.spec.updateStrategy.type}')
  log "DaemonSet updateStrategy: $strategy"
  if [ "$strategy" = OnDelete ]; then
    sleep 10
    snapshot_state "10 s after helm upgrade (OnDelete: the node pod is expected unchanged)"
    log "procedure: the volume's pod deleted, its volume detached"
    kc delete pod "$pod" --wait=true --timeout=120s
    for ((i = 0; i < 60; i++)); do
      [ -z "$(kc get volumeattachments -o jsonpath="{.items[?(@.spec.nodeName=='$(cat "$DIR/name")')].metadata.name}" 2>/dev/null)" ] && break
      sleep 2
    done
    snapshot_state "volume's pod gone"
    log "procedure: node pod $old deleted"
    kc -n "$ns" delete pod "$old" --wait=true --timeout=120s
  fi
  if [ "$strategy" = OnDelete ]; then
    wait_for 120 "a new node pod" sh -c "[ -n \"\$(kubectl --kubeconfig '$DIR/admin.kubeconfig' -n $ns get pods -l app.kubernetes.io/component=node -o name | grep -v 'pod/$old\$')\" ]"
  else
    kc -n "$ns" rollout status ds/longhorn-ts-node --timeout=300s || true
  fi
  new=$(kc -n "$ns" get pods -l app.kubernetes.io/component=node -o jsonpath='{.items[0].metadata.name}')
  log "node pod: $old -> $new ($(kc -n "$ns" get pod "$new" -o jsonpath='{.spec.containers[0].image}'))"
  for ((i = 0; i < 120; i++)); do
    [ "$(kc -n "$ns" get pods -o jsonpath='{range .items[*]}{.status.containerStatuses[*].ready}{" "}{end}' | grep -c false)" = 0 ] && break
    sleep 2
  done
  if [ "$strategy" = OnDelete ]; then
    log "procedure: the volume's pod made again"
    cmd_pvc
  fi
  sleep 20
  snapshot_state "after the roll"
  log "the mount, in the running pod:"
  kc exec "$pod" -- sh -c 'grep " /data " /proc/mounts; cat /data/hello; ls -l /data; tail -2 /data/ticks; echo "writer errors:"; cat /tmp/ticks.err 2>/dev/null | tail -5; echo after > /data/after && sync && cat /data/after' 2>&1 || true
  after=$(kc exec "$pod" -- sha256sum /data/before.bin 2>&1 | awk '{print $1}') || true
  log "before.bin sha256 after the roll: $after ($([ "$after" = "$before" ] && echo intact || echo DIFFERENT))"
  log "dmesg since the start, about ${loopdev:-the loop device}:"
  dmesg | awk -v m="$(cat "$DIR/dmesg.mark" 2>/dev/null)" 'f; $0 == m {f = 1}' | grep -E "${loopdev:-loop}[^0-9]" | tail -20 || true
  log "the data in a fresh pod (deleted and made again):"
  kc delete pod "$pod" --wait=true --timeout=120s || true
  cmd_pvc || true
  after=$(kc exec "$pod" -- sha256sum /data/before.bin 2>&1 | awk '{print $1}') || true
  log "before.bin sha256 in a fresh pod: $after ($([ "$after" = "$before" ] && echo intact || echo DIFFERENT))"
  [ "$after" = "$before" ]
}

# helm uninstall with the volume still there (the pre-delete check should refuse, at once), then
# with the volume deleted (should pass); what is left in the namespace after.
cmd_uninstall() {
  local ns=longhorn-system t rc
  t=$(date +%s)
  set +e
  helm --kubeconfig "$DIR/admin.kubeconfig" uninstall longhorn-ts -n "$ns" --timeout 3m
  rc=$?
  set -e
  log "helm uninstall with the volume: exit $rc after $(($(date +%s) - t)) s"
  kc -n "$ns" get jobs,pods -l app.kubernetes.io/component=uninstall-check -o wide 2>&1 || true
  kc -n "$ns" logs job/longhorn-ts-uninstall-check 2>&1 | tail -3 || true
  log "the volume's pod and PVC deleted"
  kc delete pod real-node-pvc --ignore-not-found --wait=true --timeout=120s || true
  kc delete pvc real-node-pvc --ignore-not-found --wait=true --timeout=120s || true
  local i
  for ((i = 0; i < 60; i++)); do
    [ -z "$(kc -n "$ns" get lhv -o name 2>/dev/null)" ] && break
    sleep 2
  done
  kc -n "$ns" get lhv,lhe,lhr 2>&1 || true
  t=$(date +%s)
  set +e
  helm --kubeconfig "$DIR/admin.kubeconfig" uninstall longhorn-ts -n "$ns" --timeout 3m --wait
  rc=$?
  set -e
  log "helm uninstall without volumes: exit $rc after $(($(date +%s) - t)) s"
  kc -n "$ns" get all,cm,sa,role,rolebinding 2>&1 || true
  kc get volumeattachments,csidriver,sc 2>&1 || true
  losetup -nO NAME,BACK-FILE 2>/dev/null | grep "$DIR/" || log "no loop device over $DIR"
  return $rc
}

cmd_demo() {
  local cdir=$DIR-cluster rc=0
  # A fresh node folder (nothing may be mounted under it: a node still up is stopped first).
  if awk -v d="$DIR/" 'index($5, d) == 1' /proc/self/mountinfo | grep -q . || [ -f "$DIR/kubelet.pid" ]; then cmd_down; fi
  if [ -n "$(ls -A "$DIR")" ] && [ ! -f "$DIR/name" ]; then
    log "$DIR is not empty and holds no real node: refusing to clear it (pick another --dir)" >&2
    exit 2
  fi
  rm -rf "${DIR:?}"/* "$cdir"
  # Stopped (Ctrl-C, a time-out): tear everything down all the same.
  trap 'trap - INT TERM; cmd_down; (cd "$REPO" && npx longhorn-local cluster down --dir "$cdir") || true; exit 130' INT TERM
  (cd "$REPO" && npx longhorn-local cluster up --dir "$cdir" --nodes 1 --no-longhorn)
  CLUSTER=$cdir
  local steps="cmd_up cmd_smoke cmd_chart cmd_pvc"
  if [ ! -f "$RN/images/longhorn-ts-node.tar" ]; then
    log "no chart images (build-real-node.sh chart): the busybox pod only"
    steps="cmd_up cmd_smoke"
  fi
  # A subshell outside any && / || list, so that `set -e` stops at the first failing command.
  set +e
  (
    set -e
    for step in $steps; do $step; done
  )
  rc=$?
  set -e
  [ $rc = 0 ] || log "demo FAILED (exit $rc); tearing down"
  cmd_down
  (cd "$REPO" && npx longhorn-local cluster down --dir "$cdir") || true
  return $rc
}

case "$CMD" in
up) cmd_up ;;
smoke) cmd_smoke ;;
down) cmd_down ;;
chart) cmd_chart ;;
pvc) cmd_pvc ;;
upgrade) cmd_upgrade ;;
uninstall) cmd_uninstall ;;
demo) cmd_demo ;;
*) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2 ;;
esac
