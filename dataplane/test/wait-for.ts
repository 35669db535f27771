import { setTimeout as delay } from 'node:timers/promises';

/** The data plane tests' one way to wait: probe a condition until it holds or a deadline passes. */
export class WaitTimeoutError extends Error {
  readonly code = 'TIMEOUT';
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
    readonly lastError?: unknown,
  ) {
    const last = lastError instanceof Error ? lastError.message : lastError ? String(lastError) : '';
    super(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
    this.name = 'WaitTimeoutError';
  }
}

export interface WaitOptions {
  /** Default 10 s. */
  timeoutMs?: number;
  /** First pause between probes (default 5 ms); doubles up to maxIntervalMs (default 100 ms). */
  intervalMs?: number;
  maxIntervalMs?: number;
  /** A probe error for which this returns true ends the wait at once (e.g. the process died). */
  isFatal?: (err: unknown) => boolean;
}

/**
 * Probes until it returns a value other than undefined/false and returns that value, or throws
 * WaitTimeoutError once `timeoutMs` passed. A probe that throws counts as "not yet"; its last
 * error is in the timeout's message. (Same contract as test/src/harness/wait.ts, which the
 * data plane cannot import.)
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  options: WaitOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxInterval = options.maxIntervalMs ?? 100;
  let interval = options.intervalMs ?? 5;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      if (options.isFatal?.(err)) throw err;
      lastError = err;
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new WaitTimeoutError(what, timeoutMs, lastError);
    await delay(Math.min(interval, left));
    interval = Math.min(interval * 2, maxInterval);
  }
}

/**
 * A probe that holds once `sample` returned the same value `times` probes in a row (and
 * `accept` took it): for "this stopped moving", e.g. a peer that stopped reading its socket.
 */
export function steady<V>(
  sample: () => V,
  times: number,
  accept: (v: V) => boolean = () => true,
): () => V | false {
  let last: V | undefined;
  let seen = 0;
  return () => {
    const v = sample();
    if (!accept(v)) seen = 0;
    else seen = v === last ? seen + 1 : 1;
    last = v;
    return seen >= times ? v : false;
  };
}
