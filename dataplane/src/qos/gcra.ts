/**
 * One rate limit as a generic cell rate algorithm: a token bucket of `capacity` units filled at
 * `rate` units per second, kept as the "theoretical arrival time" instead of a token count, so
 * nothing ticks while the volume is idle. A request bigger than the bucket is let through once
 * the bucket is full and leaves it in debt, so large I/Os wait their share instead of starving.
 */
export class Gcra {
  private readonly intervalMs: number;
  private readonly toleranceMs: number;
  /** When the bucket would be full again if nothing else came. */
  private tat: number;

  constructor(
    readonly rate: number,
    capacity: number,
    now: number,
  ) {
    this.intervalMs = 1000 / rate;
    this.toleranceMs = Math.max(1, capacity) * this.intervalMs;
    this.tat = now;
  }

  /** The earliest time (ms, same clock as `now`) at which `cost` units may pass. */
  readyAt(cost: number, now: number): number {
    const tat = Math.max(this.tat, now);
    // Tokens at `now` are (tolerance - (tat - now)) / interval; `cost` of them must be there,
    // or the bucket must be full when the cost exceeds its capacity.
    const need = Math.min(cost * this.intervalMs, this.toleranceMs);
    return tat - this.toleranceMs + need;
  }

  /** Spends `cost` units at `now` (call once readyAt(cost, now) <= now). */
  take(cost: number, now: number): void {
    this.tat = Math.max(this.tat, now) + cost * this.intervalMs;
  }
}
