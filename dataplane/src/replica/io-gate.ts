/**
 * Block I/O runs shared; structural changes (snapshot, purge, revert, expand, close) run
 * exclusive, after in-flight I/O drains and while new I/O waits. The shared path is a counter
 * increment when no structural change is pending.
 */
export class IoGate {
  private active = 0;
  private exclusiveHeld = false;
  private readonly sharedQueue: (() => void)[] = [];
  private readonly exclusiveQueue: (() => void)[] = [];

  /** True when shared I/O would enter at once: no structural change holds or waits. */
  isOpen(): boolean {
    return !this.exclusiveHeld && this.exclusiveQueue.length === 0;
  }

  /** Returns null when entered at once, else a promise that resolves once entered. */
  enter(): Promise<void> | null {
    if (!this.exclusiveHeld && this.exclusiveQueue.length === 0) {
      this.active++;
      return null;
    }
    return new Promise((resolve) =>
      this.sharedQueue.push(() => {
        this.active++;
        resolve();
      }),
    );
  }

  leave(): void {
    this.active--;
    if (this.active === 0) this.wake();
  }

  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.exclusiveHeld || this.active > 0 || this.exclusiveQueue.length > 0) {
      await new Promise<void>((resolve) => this.exclusiveQueue.push(resolve));
    }
    this.exclusiveHeld = true;
    try {
      return await fn();
    } finally {
      this.exclusiveHeld = false;
      this.wake();
    }
  }

  private wake(): void {
    if (this.exclusiveHeld || this.active > 0) return;
    // A waiting structural change goes first (I/O that arrived meanwhile queued behind it,
    // so a steady stream of I/O cannot starve it); then all waiting I/O at once.
    const next = this.exclusiveQueue.shift();
    if (next) {
      this.exclusiveHeld = true;
      next();
      return;
    }
    const q = this.sharedQueue.splice(0);
    for (const go of q) go();
  }
}
