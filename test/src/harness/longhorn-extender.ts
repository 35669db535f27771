import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { extenderStanza } from '@longhorn-ts/scheduler-extender';
import { ManagedProcess } from './managed-process.js';
import { logOffset, waitForReadyLine } from './ready-line.js';

/** The scheduler extender's entry (scheduler-extender workspace, compiled). */
export const EXTENDER_ENTRY = fileURLToPath(
  new URL('../../../scheduler-extender/dist/main.js', import.meta.url),
);

/**
 * The kube-scheduler configuration stanza for our extender at 127.0.0.1:port. The scheduler is
 * configured with it before the extender runs: the stanza is `ignorable`, so pods schedule while
 * the extender is not (yet) there.
 */
export function localExtenderConfiguration(port: number): { extenders: object[] } {
  return { extenders: [extenderStanza({ urlPrefix: `http://127.0.0.1:${port}` })] };
}

export interface ExtenderOptions {
  kubeconfig: string;
  port: number;
  logDir: string;
  outliveParent?: boolean;
  timeoutMs?: number;
  onSpawn?: (proc: ManagedProcess) => unknown;
}

/** Starts the extender and waits until its caches synced (its ready line). */
export async function startExtender(options: ExtenderOptions): Promise<ManagedProcess> {
  if (!existsSync(EXTENDER_ENTRY)) {
    throw new Error(`the scheduler extender is not built (${EXTENDER_ENTRY} is missing): run npx tsc -b`);
  }
  const logFile = join(options.logDir, 'scheduler-extender.log');
  const offset = await logOffset(logFile);
  const proc = ManagedProcess.start({
    name: 'scheduler-extender',
    command: process.execPath,
    args: [EXTENDER_ENTRY, '--listen', `127.0.0.1:${options.port}`],
    env: { ...process.env, KUBECONFIG: options.kubeconfig },
    logFile,
    outliveParent: options.outliveParent ?? false,
  });
  await options.onSpawn?.(proc);
  await waitForReadyLine('the scheduler extender', proc, ['extender', 'pid'], {
    offset,
    timeoutMs: options.timeoutMs ?? 60_000,
  });
  return proc;
}
