/**
 * Time as the controller runtime sees it. Production uses the system clock; tests drive a
 * ManualClock so back-off and requeue delays are checked without sleeping.
 */

export interface Timer {
  cancel(): void;
}

export interface Clock {
  now(): number;
  setTimer(fn: () => void, ms: number): Timer;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const handle = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(handle) };
  },
};

interface Pending {
  due: number;
  seq: number;
  fn: () => void;
}

/** A clock that moves only when told to; timers fire in due order during `advance`. */
export class ManualClock implements Clock {
  private time: number;
  private seq = 0;
  private readonly timers = new Set<Pending>();

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimer(fn: () => void, ms: number): Timer {
    const t: Pending = { due: this.time + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.add(t);
    return { cancel: () => this.timers.delete(t) };
  }

  /** Move time forward, firing every timer that falls due (including ones set while firing). */
  advance(ms: number): void {
    const target = this.time + ms;
    for (;;) {
      let first: Pending | undefined;
      for (const t of this.timers) {
        if (
          t.due <= target &&
          (first === undefined || t.due < first.due || (t.due === first.due && t.seq < first.seq))
        ) {
          first = t;
        }
      }
      if (first === undefined) break;
      this.timers.delete(first);
      this.time = first.due;
      first.fn();
    }
    this.time = target;
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.timers.size;
  }

  /** Milliseconds until the next timer, or undefined when none is set. */
  nextDelay(): number | undefined {
    let min: number | undefined;
    for (const t of this.timers) if (min === undefined || t.due < min) min = t.due;
    return min === undefined ? undefined : min - this.time;
  }
}
