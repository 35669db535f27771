import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { binaryPath } from './binaries.js';
import { probeOk } from './http-probe.js';
import { ManagedProcess } from './managed-process.js';
import { waitForReady } from './readiness.js';

/**
 * A KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1) minus what the harness fills
 * in (clientConnection, leaderElection). Use it to add `extenders` or `profiles`.
 */
export type SchedulerConfiguration = Record<string, unknown>;

export interface KubeSchedulerOptions {
  kubeconfig: string;
  port: number;
  logDir: string;
  certDir: string;
  configFile: string;
  configuration?: SchedulerConfiguration;
  extraArgs?: string[];
  outliveParent?: boolean;
  timeoutMs?: number;
  /** Called right after the spawn, before readiness, so a failed start can still be torn down. */
  onSpawn?: (proc: ManagedProcess) => unknown;
}

export function schedulerConfiguration(kubeconfig: string, extra: SchedulerConfiguration = {}): object {
  return {
    apiVersion: 'kubescheduler.config.k8s.io/v1',
    kind: 'KubeSchedulerConfiguration',
    ...extra,
    clientConnection: { kubeconfig },
    leaderElection: { leaderElect: false },
  };
}

export async function startKubeScheduler(options: KubeSchedulerOptions): Promise<ManagedProcess> {
  await writeFile(
    options.configFile,
    `${JSON.stringify(schedulerConfiguration(options.kubeconfig, options.configuration), null, 2)}\n`,
  );
  const proc = ManagedProcess.start({
    name: 'kube-scheduler',
    command: binaryPath('kube-scheduler'),
    args: [
      `--config=${options.configFile}`,
      `--authentication-kubeconfig=${options.kubeconfig}`,
      `--authorization-kubeconfig=${options.kubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${options.port}`,
      `--cert-dir=${options.certDir}`,
      '--v=1',
      ...(options.extraArgs ?? []),
    ],
    logFile: join(options.logDir, 'kube-scheduler.log'),
    outliveParent: options.outliveParent ?? false,
  });
  await options.onSpawn?.(proc);
  await waitForReady(
    'kube-scheduler',
    proc,
    () => probeOk(`https://127.0.0.1:${options.port}/healthz`, { insecure: true }),
    options.timeoutMs ?? 60_000,
  );
  return proc;
}
