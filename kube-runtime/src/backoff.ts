/**
 * Per-key exponential back-off: base, 2*base, 4*base, ... capped at max; `forget` starts a
 * key over. The work queue uses it per object (5 ms to about a minute), the informer
 * supervisor for its restarts (1 s to 30 s).
 */
export class ExponentialBackoff {
  private readonly failures = new Map<string, number>();

  constructor(
    readonly baseMs: number,
    readonly maxMs: number,
  ) {}

  /** The delay before the next attempt for `key`, counting this failure. */
  next(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    // 2 ** n overflows to Infinity long after the cap applies; Math.min keeps it finite.
    return Math.min(this.maxMs, this.baseMs * 2 ** n);
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  count(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}
