/**
 * Admits I/O while open; `pause()` stops new I/O and resolves once every admitted request has
 * left, so snapshots, expansion and rebuild hand-over see one consistent point.
 */
export class IoBarrier {
  private inflight = 0;
  private paused = 0;
  private waitingToEnter: Array<() => void> = [];
  private waitingToDrain: Array<() => void> = [];

  /** Resolves immediately (returns undefined) when open, so the hot path allocates nothing. */
  enter(): Promise<void> | undefined {
    if (this.paused === 0) {
      this.inflight++;
      return undefined;
    }
    return new Promise((resolve) => {
      this.waitingToEnter.push(() => {
        this.inflight++;
        resolve();
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

  async pause(): Promise<void> {
    this.paused++;
    if (this.inflight > 0) await new Promise<void>((resolve) => this.waitingToDrain.push(resolve));
  }

  resume(): void {
    this.paused--;
    if (this.paused > 0) return;
    const admitted = this.waitingToEnter;
    this.waitingToEnter = [];
    for (const admit of admitted) admit();
  }

  /** Runs `fn` with I/O paused, resuming even if it throws. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    await this.pause();
    try {
      return await fn();
    } finally {
      this.resume();
    }
  }
}
