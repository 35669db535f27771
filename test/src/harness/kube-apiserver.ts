import { join } from 'node:path';
import { binaryPath } from './binaries.js';
import type { ClusterPki } from './certificates.js';
import { probeOk } from './http-probe.js';
import { ManagedProcess } from './managed-process.js';
import { waitForReady } from './readiness.js';

export interface KubeApiserverOptions {
  pki: ClusterPki;
  etcdUrl: string;
  port: number;
  logDir: string;
  certDir: string;
  /** Extra flags, e.g. `--feature-gates=...`; later flags win. */
  extraArgs?: string[];
  outliveParent?: boolean;
  timeoutMs?: number;
  /** Called right after the spawn, before readiness, so a failed start can still be torn down. */
  onSpawn?: (proc: ManagedProcess) => unknown;
}

export interface RunningKubeApiserver {
  process: ManagedProcess;
  url: string;
}

export const SERVICE_CLUSTER_IP_RANGE = '10.0.0.0/24';

/** kube-apiserver without a kubelet: loopback only, client certs + service-account tokens, RBAC. */
export async function startKubeApiserver(options: KubeApiserverOptions): Promise<RunningKubeApiserver> {
  const { pki } = options;
  const url = `https://127.0.0.1:${options.port}`;
  const proc = ManagedProcess.start({
    name: 'kube-apiserver',
    command: binaryPath('kube-apiserver'),
    args: [
      `--etcd-servers=${options.etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${options.port}`,
      `--cert-dir=${options.certDir}`,
      `--tls-cert-file=${pki.servingCert}`,
      `--tls-private-key-file=${pki.servingKey}`,
      `--client-ca-file=${pki.caCert}`,
      `--service-account-issuer=${url}/`,
      `--service-account-key-file=${pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
      '--authorization-mode=RBAC',
      '--allow-privileged=true',
      // The `kubernetes` Service would point at 127.0.0.1, which Endpoints refuse: nobody in
      // this cluster reaches the API through it.
      '--endpoint-reconciler-type=none',
      // Test speed (as kwok's own binary runtime does).
      '--enable-priority-and-fairness=false',
      '--max-requests-inflight=0',
      '--max-mutating-requests-inflight=0',
      '--profiling=false',
      '--v=1',
      ...(options.extraArgs ?? []),
    ],
    logFile: join(options.logDir, 'kube-apiserver.log'),
    outliveParent: options.outliveParent ?? false,
  });
  await options.onSpawn?.(proc);
  const tls = { ca: pki.caCert, cert: pki.adminCert, key: pki.adminKey };
  await waitForReady(
    'kube-apiserver',
    proc,
    () => probeOk(`${url}/readyz`, tls, (body) => body.trim() === 'ok'),
    options.timeoutMs ?? 90_000,
  );
  return { process: proc, url };
}
