import { setTimeout as delay } from 'node:timers/promises';

export class TimeoutError extends Error {
  readonly code = 'TIMEOUT';
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
    readonly lastError?: unknown,
  ) {
    const last = lastError instanceof Error ? lastError.message : lastError ? String(lastError) : '';
    super(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
  }
}

export interface WaitOptions {
  timeoutMs?: number;
  /** First pause between probes; doubles up to maxIntervalMs. */
  intervalMs?: number;
  maxIntervalMs?: number;
  signal?: AbortSignal;
  /** A probe error for which this returns true ends the wait at once (e.g. the process died). */
  isFatal?: (err: unknown) => boolean;
}

/**
 * Probes until it returns a value other than undefined/false, or the deadline passes. A probe
 * that throws counts as "not yet"; its last error is reported on timeout.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  options: WaitOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxInterval = options.maxIntervalMs ?? 500;
  let interval = options.intervalMs ?? 25;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      if (options.isFatal?.(err)) throw err;
      lastError = err;
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new TimeoutError(what, timeoutMs, lastError);
    await delay(Math.min(interval, left), undefined, options.signal ? { signal: options.signal } : undefined);
    interval = Math.min(interval * 2, maxInterval);
  }
}
