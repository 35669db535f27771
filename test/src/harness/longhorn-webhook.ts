import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManagedProcess } from './managed-process.js';
import { freePort } from './ports.js';
import { logOffset, waitForReadyLine } from './ready-line.js';

/** The admission webhook server's entry (webhooks workspace, compiled). */
export const WEBHOOK_ENTRY = fileURLToPath(new URL('../../../webhooks/dist/main.js', import.meta.url));

export interface WebhookOptions {
  kubeconfig: string;
  logDir: string;
  outliveParent?: boolean;
  timeoutMs?: number;
  /** Called right after the spawn, before readiness, so a failed start can still be torn down. */
  onSpawn?: (proc: ManagedProcess) => unknown;
}

export interface WebhookReady {
  webhook: string;
  pid: number;
}

/**
 * The admission webhook server, registered by `url` on 127.0.0.1 (the local mode has no service
 * network). It writes both webhook configurations with its CA bundle before it prints ready.
 */
export async function startWebhook(
  options: WebhookOptions,
): Promise<{ proc: ManagedProcess; ready: WebhookReady }> {
  if (!existsSync(WEBHOOK_ENTRY)) {
    throw new Error(`the webhook server is not built (${WEBHOOK_ENTRY} is missing): run npx tsc -b`);
  }
  const port = await freePort();
  const logFile = join(options.logDir, 'webhooks.log');
  const offset = await logOffset(logFile);
  const proc = ManagedProcess.start({
    name: 'webhooks',
    command: process.execPath,
    args: [WEBHOOK_ENTRY, '--listen', `127.0.0.1:${port}`, '--local', '--kubeconfig', options.kubeconfig],
    env: { ...process.env, KUBECONFIG: options.kubeconfig },
    logFile,
    outliveParent: options.outliveParent ?? false,
  });
  await options.onSpawn?.(proc);
  const ready = await waitForReadyLine<WebhookReady>('the webhook server', proc, ['webhook', 'pid'], {
    offset,
    timeoutMs: options.timeoutMs ?? 60_000,
  });
  return { proc, ready };
}
