/**
 * A byte-rate limiter for rebuild traffic: `take(n)` resolves when n bytes may be sent.
 * A rate of 0 means unlimited. Bursts up to one second's worth.
 */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();

  constructor(private readonly bytesPerSecond: number) {
    this.tokens = bytesPerSecond;
  }

  async take(n: number): Promise<void> {
    if (this.bytesPerSecond <= 0) return;
    for (;;) {
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
