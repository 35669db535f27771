// The test harness: a real Kubernetes control plane (built from the Go module proxy by
// test/harness/build-binaries.sh) plus simulated nodes, for the e2e suites and the local mode.
export * from './harness/addons.js';
export * from './harness/binaries.js';
export * from './harness/certificates.js';
export * from './harness/cluster.js';
export * from './harness/cluster-state.js';
export * from './harness/etcd.js';
export * from './harness/host-cleanup.js';
export * from './harness/http-probe.js';
export * from './harness/kube-apiserver.js';
export * from './harness/kube-controller-manager.js';
export * from './harness/kube-scheduler.js';
export * from './harness/kubeconfig.js';
export * from './harness/kubectl.js';
export * from './harness/kubelet-csi.js';
export * from './harness/kwok.js';
export * from './harness/managed-process.js';
export * from './harness/node-specs.js';
export * from './harness/ports.js';
export * from './harness/readiness.js';
export * from './harness/simulated-node.js';
export * from './harness/wait.js';
