import { join } from 'node:path';
import { binaryPath } from './binaries.js';
import { probeOk } from './http-probe.js';
import { ManagedProcess } from './managed-process.js';
import { waitForReady } from './readiness.js';

export interface EtcdOptions {
  dataDir: string;
  logDir: string;
  clientPort: number;
  peerPort: number;
  outliveParent?: boolean;
  timeoutMs?: number;
  /** Called right after the spawn, before readiness, so a failed start can still be torn down. */
  onSpawn?: (proc: ManagedProcess) => unknown;
}

export interface RunningEtcd {
  process: ManagedProcess;
  url: string;
}

/** One etcd member on loopback, fsync off (test data is disposable). */
export async function startEtcd(options: EtcdOptions): Promise<RunningEtcd> {
  const url = `http://127.0.0.1:${options.clientPort}`;
  const peer = `http://127.0.0.1:${options.peerPort}`;
  const proc = ManagedProcess.start({
    name: 'etcd',
    command: binaryPath('etcd'),
    args: [
      '--name=longhorn-local',
      `--data-dir=${options.dataDir}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=longhorn-local=${peer}`,
      '--initial-cluster-state=new',
      '--unsafe-no-fsync=true',
      '--log-level=warn',
      '--quota-backend-bytes=2147483648',
    ],
    logFile: join(options.logDir, 'etcd.log'),
    outliveParent: options.outliveParent ?? false,
  });
  await options.onSpawn?.(proc);
  await waitForReady(
    'etcd',
    proc,
    () => probeOk(`${url}/health`, {}, (body) => /"health":\s*"true"/.test(body)),
    options.timeoutMs,
  );
  return { process: proc, url };
}
