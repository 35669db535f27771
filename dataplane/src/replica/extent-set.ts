/**
 * A set of disjoint, non-adjacent half-open block ranges [start, end), kept sorted.
 *
 * Longhorn keeps one byte per 4 KiB block (256 MiB per TiB). This keeps one 16-byte pair per
 * run of blocks instead, so a fully written layer costs one entry and a sparse one costs in
 * proportion to its extents. Entries live in fixed-size chunks of typed arrays (a flat B-tree
 * leaf level): inserts and removals shift at most one chunk, lookups are two binary searches.
 */
const CHUNK = 512;

class Chunk {
  readonly starts = new Float64Array(CHUNK);
  readonly ends = new Float64Array(CHUNK);
  n = 0;
}

export class ExtentSet {
  private chunks: Chunk[] = [];
  private blocks = 0;
  private extents = 0;
  // Out-parameters of find(), to keep the hot path free of tuple allocations.
  private fc = 0;
  private fk = 0;

  /** Number of blocks in the set. */
  get blockCount(): number {
    return this.blocks;
  }

  get extentCount(): number {
    return this.extents;
  }

  /** Bytes held by the index itself (typed arrays plus per-chunk object overhead). */
  memoryBytes(): number {
    return this.chunks.length * (CHUNK * 16 + 64) + 64;
  }

  clear(): void {
    this.chunks = [];
    this.blocks = 0;
    this.extents = 0;
  }

  /** Positions (fc, fk) at the first extent whose end is > x (strict) or >= x (touching). */
  private find(x: number, strict: boolean): void {
    const chunks = this.chunks;
    let lo = 0;
    let hi = chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = chunks[mid]!;
      const last = c.ends[c.n - 1]!;
      if (strict ? last > x : last >= x) hi = mid;
      else lo = mid + 1;
    }
    this.fc = lo;
    if (lo === chunks.length) {
      this.fk = 0;
      return;
    }
    const c = chunks[lo]!;
    let a = 0;
    let b = c.n - 1;
    while (a < b) {
      const mid = (a + b) >>> 1;
      const end = c.ends[mid]!;
      if (strict ? end > x : end >= x) b = mid;
      else a = mid + 1;
    }
    this.fk = a;
  }

  private insertAt(ci: number, k: number, s: number, e: number): void {
    const chunks = this.chunks;
    if (chunks.length === 0) {
      chunks.push(new Chunk());
      ci = 0;
      k = 0;
    } else if (ci >= chunks.length) {
      ci = chunks.length - 1;
      k = chunks[ci]!.n;
    }
    let c = chunks[ci]!;
    if (c.n === CHUNK) {
      // Split the full chunk in halves; the new entry goes into whichever half holds k.
      const half = CHUNK >>> 1;
      const right = new Chunk();
      right.starts.set(c.starts.subarray(half, CHUNK));
      right.ends.set(c.ends.subarray(half, CHUNK));
      right.n = CHUNK - half;
      c.n = half;
      chunks.splice(ci + 1, 0, right);
      if (k > half) {
        c = right;
        k -= half;
      }
    }
    if (k < c.n) {
      c.starts.copyWithin(k + 1, k, c.n);
      c.ends.copyWithin(k + 1, k, c.n);
    }
    c.starts[k] = s;
    c.ends[k] = e;
    c.n++;
    this.extents++;
  }

  /** Deletes `count` consecutive extents starting at (ci, k); they may span chunks. */
  private deleteRun(ci: number, k: number, count: number): void {
    const chunks = this.chunks;
    while (count > 0) {
      const c = chunks[ci]!;
      const take = Math.min(count, c.n - k);
      c.starts.copyWithin(k, k + take, c.n);
      c.ends.copyWithin(k, k + take, c.n);
      c.n -= take;
      count -= take;
      this.extents -= take;
      if (c.n === 0) chunks.splice(ci, 1);
      else ci++;
      k = 0;
    }
  }

  /** Adds [s, e), merging with every extent it overlaps or touches. */
  add(s: number, e: number): void {
    if (e <= s) return;
    this.find(s, false);
    const ci = this.fc;
    const k = this.fk;
    const chunks = this.chunks;
    if (ci >= chunks.length || chunks[ci]!.starts[k]! > e) {
      this.insertAt(ci, k, s, e);
      this.blocks += e - s;
      return;
    }
    const c = chunks[ci]!;
    const ns = Math.min(s, c.starts[k]!);
    let ne = Math.max(e, c.ends[k]!);
    let covered = c.ends[k]! - c.starts[k]!;
    let count = 0;
    let ci2 = ci;
    let k2 = k + 1;
    if (k2 >= c.n) {
      ci2++;
      k2 = 0;
    }
    while (ci2 < chunks.length) {
      const c2 = chunks[ci2]!;
      if (c2.starts[k2]! > ne) break;
      covered += c2.ends[k2]! - c2.starts[k2]!;
      if (c2.ends[k2]! > ne) ne = c2.ends[k2]!;
      count++;
      k2++;
      if (k2 >= c2.n) {
        ci2++;
        k2 = 0;
      }
    }
    c.starts[k] = ns;
    c.ends[k] = ne;
    this.blocks += ne - ns - covered;
    if (count > 0) {
      if (k + 1 < c.n) this.deleteRun(ci, k + 1, count);
      else this.deleteRun(ci + 1, 0, count);
    }
  }

  /** Removes [s, e), trimming or splitting the extents it overlaps. */
  remove(s: number, e: number): void {
    if (e <= s) return;
    this.find(s, true);
    let ci = this.fc;
    let k = this.fk;
    const chunks = this.chunks;
    if (ci >= chunks.length) return;
    const c = chunks[ci]!;
    if (c.starts[k]! < s) {
      const end = c.ends[k]!;
      if (end > e) {
        c.ends[k] = s;
        this.blocks -= e - s;
        this.insertAt(ci, k + 1, e, end);
        return;
      }
      this.blocks -= end - s;
      c.ends[k] = s;
      k++;
      if (k >= c.n) {
        ci++;
        k = 0;
      }
    }
    let count = 0;
    let ci2 = ci;
    let k2 = k;
    while (ci2 < chunks.length) {
      const c2 = chunks[ci2]!;
      const st = c2.starts[k2]!;
      if (st >= e) break;
      const en = c2.ends[k2]!;
      if (en > e) {
        this.blocks -= e - st;
        c2.starts[k2] = e;
        break;
      }
      this.blocks -= en - st;
      count++;
      k2++;
      if (k2 >= c2.n) {
        ci2++;
        k2 = 0;
      }
    }
    if (count > 0) this.deleteRun(ci, k, count);
  }

  /**
   * Appends the parts of extents inside [s, e) to `out` as flat (start, end) pairs, clipped
   * to [s, e); returns the number of pairs appended. `out` is the caller's reusable array.
   */
  overlaps(s: number, e: number, out: number[]): number {
    if (e <= s || this.chunks.length === 0) return 0;
    this.find(s, true);
    let ci = this.fc;
    let k = this.fk;
    const chunks = this.chunks;
    let n = 0;
    while (ci < chunks.length) {
      const c = chunks[ci]!;
      const st = c.starts[k]!;
      if (st >= e) break;
      out.push(Math.max(st, s), Math.min(c.ends[k]!, e));
      n++;
      k++;
      if (k >= c.n) {
        ci++;
        k = 0;
      }
    }
    return n;
  }

  /** True when some block of [s, e) is in the set. */
  intersects(s: number, e: number): boolean {
    if (e <= s) return false;
    this.find(s, true);
    return this.fc < this.chunks.length && this.chunks[this.fc]!.starts[this.fk]! < e;
  }

  /** True when every block of [s, e) is in the set. */
  covers(s: number, e: number): boolean {
    if (e <= s) return true;
    this.find(s, true);
    if (this.fc >= this.chunks.length) return false;
    const c = this.chunks[this.fc]!;
    return c.starts[this.fk]! <= s && c.ends[this.fk]! >= e;
  }

  /** Every extent in order. */
  *[Symbol.iterator](): IterableIterator<[number, number]> {
    for (const c of this.chunks) {
      for (let k = 0; k < c.n; k++) yield [c.starts[k]!, c.ends[k]!];
    }
  }
}
