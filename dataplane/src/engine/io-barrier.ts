/**
 * Admits I/O while open; an exclusive section stops new I/O and runs once every admitted request
 * has left, so snapshots, expansion, clean points and the rebuild hand-over each see one
 * consistent point. Exclusive sections run one at a time, never overlapping. `close` runs a last
 * exclusive section and stays shut: later I/O and sections are refused.
 */
export class IoBarrier {
  private inflight = 0;
  private paused = 0;
  private waitingToEnter: Array<{ admit: () => void; refuse: (err: Error) => void }> = [];
  private waitingToDrain: Array<() => void> = [];
  private exclusiveTail: Promise<void> = Promise.resolve();
  private closedError: Error | null = null;

  /** True when I/O enters at once: no exclusive section runs or waits, not closed. */
  isOpen(): boolean {
    return this.paused === 0;
  }

  /** Resolves immediately (returns undefined) when open, so the hot path allocates nothing. */
  enter(): Promise<void> | undefined {
    if (this.paused === 0) {
      this.inflight++;
      return undefined;
    }
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      this.waitingToEnter.push({
        admit: () => {
          this.inflight++;
          resolve();
        },
        refuse: reject,
      });
    });
  }

  leave(): void {
    this.inflight--;
    if (this.inflight === 0 && this.waitingToDrain.length > 0) {
      const drained = this.waitingToDrain;
      this.waitingToDrain = [];
      for (const resolve of drained) resolve();
    }
  }

  /** Runs `fn` with I/O paused, after any other exclusive section, resuming even if it throws. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.serialised(async () => {
      await this.pause();
      try {
        return await fn();
      } finally {
        this.resume();
      }
    });
  }

  /**
   * Runs `fn` as the last exclusive section; afterwards every request waiting to enter, and
   * every later one, is refused with `err` (even if `fn` throws).
   */
  async close<T>(fn: () => Promise<T>, err: Error): Promise<T> {
    return this.serialised(async () => {
      await this.pause();
      try {
        return await fn();
      } finally {
        this.closedError = err;
        const refused = this.waitingToEnter;
        this.waitingToEnter = [];
        for (const w of refused) w.refuse(err);
      }
    });
  }

  private async serialised<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closedError) throw this.closedError;
    const before = this.exclusiveTail;
    let done!: () => void;
    this.exclusiveTail = new Promise<void>((resolve) => {
      done = resolve;
    });
    try {
      await before;
      if (this.closedError) throw this.closedError;
      return await fn();
    } finally {
      done();
    }
  }

  private async pause(): Promise<void> {
    this.paused++;
    if (this.inflight > 0) await new Promise<void>((resolve) => this.waitingToDrain.push(resolve));
  }

  private resume(): void {
    this.paused--;
    if (this.paused > 0) return;
    const admitted = this.waitingToEnter;
    this.waitingToEnter = [];
    for (const w of admitted) w.admit();
  }
}
