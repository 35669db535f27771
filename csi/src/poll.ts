import { CsiError } from './errors.js';

/**
 * Polls `probe` (50 ms growing to 1 s) until it is true; DEADLINE_EXCEEDED naming `what` when
 * `timeoutMs` passes. An error thrown by the probe ends the wait with that error.
 */
export async function pollUntil(
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  let interval = 50;
  for (;;) {
    if (await probe()) return;
    if (Date.now() >= end)
      throw new CsiError('DEADLINE_EXCEEDED', `timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, Math.min(interval, Math.max(0, end - Date.now()))));
    interval = Math.min(1_000, interval * 2);
  }
}
