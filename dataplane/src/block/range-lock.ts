/**
 * Serialises operations whose byte ranges overlap, for read-modify-write of whole blocks: the
 * engine's widened writes to a write-only replica (edge blocks read from a read-write one) and
 * the encryption layer's partial-block writes (edge blocks read, decrypted, re-encrypted). No
 * other write to those blocks may land in between.
 */
interface Held {
  start: number;
  end: number;
  waiters: Array<() => void>;
}

export class RangeLock {
  private held: Held[] = [];

  async acquire(offset: number, length: number): Promise<() => void> {
    const start = offset;
    const end = offset + length;
    for (;;) {
      const conflict = this.held.find((h) => h.start < end && start < h.end);
      if (!conflict) break;
      await new Promise<void>((resolve) => conflict.waiters.push(resolve));
    }
    const mine: Held = { start, end, waiters: [] };
    this.held.push(mine);
    return () => {
      const i = this.held.indexOf(mine);
      if (i >= 0) this.held.splice(i, 1);
      for (const wake of mine.waiters) wake();
    };
  }

  get size(): number {
    return this.held.length;
  }
}
