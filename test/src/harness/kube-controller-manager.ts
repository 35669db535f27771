import { join } from 'node:path';
import { binaryPath } from './binaries.js';
import type { ClusterPki } from './certificates.js';
import { probeOk } from './http-probe.js';
import { ManagedProcess } from './managed-process.js';
import { waitForReady } from './readiness.js';

export interface KubeControllerManagerOptions {
  pki: ClusterPki;
  kubeconfig: string;
  port: number;
  logDir: string;
  certDir: string;
  extraArgs?: string[];
  outliveParent?: boolean;
  timeoutMs?: number;
  /** Called right after the spawn, before readiness, so a failed start can still be torn down. */
  onSpawn?: (proc: ManagedProcess) => unknown;
}

/**
 * Every default controller (PV binder, attach-detach, garbage collector, namespace, service
 * accounts, node lifecycle...) except those that need a cloud provider.
 */
export const CONTROLLERS = '*,-cloud-node-lifecycle-controller,-service-lb-controller,-node-route-controller';

export async function startKubeControllerManager(
  options: KubeControllerManagerOptions,
): Promise<ManagedProcess> {
  const { pki } = options;
  const proc = ManagedProcess.start({
    name: 'kube-controller-manager',
    command: binaryPath('kube-controller-manager'),
    args: [
      `--kubeconfig=${options.kubeconfig}`,
      `--authentication-kubeconfig=${options.kubeconfig}`,
      `--authorization-kubeconfig=${options.kubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${options.port}`,
      `--cert-dir=${options.certDir}`,
      `--controllers=${CONTROLLERS}`,
      `--service-account-private-key-file=${pki.serviceAccountKey}`,
      `--root-ca-file=${pki.caCert}`,
      `--cluster-signing-cert-file=${pki.caCert}`,
      `--cluster-signing-key-file=${pki.caKey}`,
      '--use-service-account-credentials=false',
      '--leader-elect=false',
      '--allocate-node-cidrs=false',
      '--profiling=false',
      '--v=1',
      ...(options.extraArgs ?? []),
    ],
    logFile: join(options.logDir, 'kube-controller-manager.log'),
    outliveParent: options.outliveParent ?? false,
  });
  await options.onSpawn?.(proc);
  await waitForReady(
    'kube-controller-manager',
    proc,
    () => probeOk(`https://127.0.0.1:${options.port}/healthz`, { insecure: true }),
    options.timeoutMs ?? 60_000,
  );
  return proc;
}
