/** Waiting for the operator: poll a probe until it answers, with a deadline (TIMEOUT on expiry). */
import { setTimeout as sleep } from 'node:timers/promises';
import { PluginError } from '../errors.js';

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
}

/** Runs `probe` until it returns a value other than undefined; the error names what was awaited. */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  options: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  const interval = options.intervalMs ?? 500;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() + interval > deadline) {
      throw new PluginError(
        'TIMEOUT',
        `timed out after ${Math.round(options.timeoutMs / 1000)} s waiting for ${what}`,
      );
    }
    await sleep(interval);
  }
}
