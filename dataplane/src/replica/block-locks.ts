/**
 * Per-block-range locks for writes. Longhorn serialises every unaligned write of a replica
 * behind one mutex; here a write only waits for in-flight writes whose block ranges overlap
 * its own, so a read-modify-write of a partial block cannot lose a concurrent write to the
 * same block while unrelated writes proceed in parallel.
 *
 * In-flight requests are few (the queue depth), so held ranges are a flat list scanned
 * linearly; the uncontended path allocates one small object and no promise.
 */
export interface HeldRange {
  start: number;
  end: number;
}

interface Waiter extends HeldRange {
  grant: () => void;
}

const overlaps = (a: HeldRange, s: number, e: number): boolean => a.start < e && s < a.end;

export class BlockLocks {
  private readonly held: HeldRange[] = [];
  private readonly waiters: Waiter[] = [];

  /** Takes [start, end) at once (returns the token) or queues (returns a promise of it). */
  acquire(start: number, end: number): HeldRange | Promise<HeldRange> {
    if (this.free(start, end, this.waiters.length)) {
      const r = { start, end };
      this.held.push(r);
      return r;
    }
    return new Promise((resolve) => {
      const w: Waiter = {
        start,
        end,
        grant: () => {
          const r = { start, end };
          this.held.push(r);
          resolve(r);
        },
      };
      this.waiters.push(w);
    });
  }

  release(r: HeldRange): void {
    const i = this.held.indexOf(r);
    if (i >= 0) {
      this.held[i] = this.held[this.held.length - 1]!;
      this.held.pop();
    }
    // FIFO among overlapping waiters, so a stream of writes cannot starve an earlier one.
    for (let j = 0; j < this.waiters.length; j++) {
      const w = this.waiters[j]!;
      if (this.free(w.start, w.end, j)) {
        this.waiters.splice(j, 1);
        j--;
        w.grant();
      }
    }
  }

  /** No held range and none of the first `waiting` waiters overlaps [s, e). */
  private free(s: number, e: number, waiting: number): boolean {
    for (const h of this.held) if (overlaps(h, s, e)) return false;
    for (let j = 0; j < waiting; j++) if (overlaps(this.waiters[j]!, s, e)) return false;
    return true;
  }
}
