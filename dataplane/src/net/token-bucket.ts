/**
 * A byte-rate limiter for rebuild traffic: `take(n)` resolves when n bytes may be sent.
 * A rate of 0 means unlimited. Bursts up to one second's worth. The rate can change while
 * takers wait (a node's bulk-transfer budget set online); they see it at their next wake-up.
 */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();

  constructor(private bytesPerSecond: number) {
    this.tokens = bytesPerSecond;
  }

  get rate(): number {
    return this.bytesPerSecond;
  }

  get unlimited(): boolean {
    return this.bytesPerSecond <= 0;
  }

  /** A new rate (0: unlimited); the saved-up burst never exceeds one second of it. */
  setRate(bytesPerSecond: number): void {
    if (!Number.isSafeInteger(bytesPerSecond) || bytesPerSecond < 0)
      throw new RangeError(`a byte rate must be a non-negative integer, got ${bytesPerSecond}`);
    if (bytesPerSecond === this.bytesPerSecond) return;
    this.bytesPerSecond = bytesPerSecond;
    this.tokens = Math.min(this.tokens, bytesPerSecond);
    this.last = performance.now();
  }

  async take(n: number): Promise<void> {
    for (;;) {
      if (this.bytesPerSecond <= 0) return;
      const now = performance.now();
      this.tokens = Math.min(
        this.bytesPerSecond,
        this.tokens + ((now - this.last) / 1000) * this.bytesPerSecond,
      );
      this.last = now;
      if (this.tokens >= n || this.tokens >= this.bytesPerSecond) {
        this.tokens -= n;
        return;
      }
      const waitMs = ((n - this.tokens) / this.bytesPerSecond) * 1000;
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000, Math.max(1, waitMs))));
    }
  }
}
