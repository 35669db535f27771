import fs from 'node:fs';
import path from 'node:path';
import { fdatasync, pwrite } from './file-io.js';
import { DIRTY_MAP } from './metadata.js';

/** At most this many regions, so the bitmap stays at 8 KiB whatever the volume size. */
const MAX_REGIONS = 65536;
/**
 * Each region's first write after a clean point costs one fdatasync of the bitmap; 4 MiB keeps
 * that under a few percent of a fresh sequential write while keeping reconciliation small.
 */
const MIN_REGION = 4 << 20;

const MARK_AHEAD = 7;

/** Region size for a new replica: a power of two ≥ 4 MiB giving at most 64 Ki regions. */
export function chooseRegionSize(size: number): number {
  let r = MIN_REGION;
  while (size / r > MAX_REGIONS) r *= 2;
  return r;
}

/**
 * A write-intent bitmap, as md-raid keeps one: before the first write to a clean region, the
 * region's bit is made durable; bits are cleared only by `clear()`, which the replica calls when
 * the engine says every replica holds the same data (markClean), never on its own close (the
 * other replicas may lack writes this one applied). After any crash, every byte that can differ
 * between replicas of the same generation lies in a region whose bit is set on at least one of
 * them. The hot path is one bit test.
 */
export class DirtyMap {
  private mem: Uint8Array;
  private persisted: Uint8Array;
  private inflight: Promise<void> | null = null;
  private queued: Promise<void> | null = null;

  private constructor(
    private readonly fd: number,
    readonly regionSize: number,
    bits: Uint8Array,
    /** Runs before the first bit of a session is persisted (the replica marks itself dirty). */
    private readonly beforeFirstPersist: () => Promise<void>,
  ) {
    this.mem = bits;
    this.persisted = bits.slice();
  }

  static bytesFor(size: number, regionSize: number): number {
    return Math.ceil(Math.ceil(size / regionSize) / 8);
  }

  static async open(
    dir: string,
    size: number,
    regionSize: number,
    beforeFirstPersist: () => Promise<void>,
  ): Promise<DirtyMap> {
    const file = path.join(dir, DIRTY_MAP);
    const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    const bits = new Uint8Array(DirtyMap.bytesFor(size, regionSize));
    // A short or missing file reads as clean regions, which is only possible for a replica
    // that never persisted a bit (the file is written before any data write).
    fs.readSync(fd, bits, 0, bits.length, 0);
    return new DirtyMap(fd, regionSize, bits, beforeFirstPersist);
  }

  /**
   * Call before writing [start, end): null when the regions are already durably marked (the
   * common case), else a promise to await before the data write.
   */
  mark(start: number, end: number): Promise<void> | null {
    if (end <= start) return null;
    const r0 = Math.floor(start / this.regionSize);
    const r1 = Math.floor((end - 1) / this.regionSize);
    // The first write of a session runs beforeFirstPersist (the replica marks itself dirty)
    // even when its regions kept their bits from an earlier session.
    let pending = this.first;
    for (let r = r0; r <= r1; r++) {
      const byte = r >>> 3;
      const bit = 1 << (r & 7);
      if ((this.persisted[byte]! & bit) === 0) {
        if ((this.mem[byte]! & bit) === 0 && r > 0 && this.isSet(r - 1)) {
          // A stream moving into the next region: mark a few ahead in the same persist, so
          // a sequential writer pays one bitmap fdatasync per MARK_AHEAD regions, not per region.
          const last = Math.min(r + MARK_AHEAD, this.mem.length * 8 - 1);
          for (let a = r + 1; a <= last; a++) this.mem[a >>> 3] = this.mem[a >>> 3]! | (1 << (a & 7));
        }
        this.mem[byte] = this.mem[byte]! | bit;
        pending = true;
      }
    }
    return pending ? this.persist() : null;
  }

  private isSet(r: number): boolean {
    return (this.mem[r >>> 3]! & (1 << (r & 7))) !== 0;
  }

  /** Regions (bytes) whose bit is set, merged into runs. */
  ranges(size: number): { offset: number; length: number }[] {
    const out: { offset: number; length: number }[] = [];
    const regions = Math.ceil(size / this.regionSize);
    let runStart = -1;
    for (let r = 0; r <= regions; r++) {
      const set = r < regions && (this.mem[r >>> 3]! & (1 << (r & 7))) !== 0;
      if (set && runStart < 0) runStart = r;
      if (!set && runStart >= 0) {
        const offset = runStart * this.regionSize;
        out.push({ offset, length: Math.min(size, r * this.regionSize) - offset });
        runStart = -1;
      }
    }
    return out;
  }

  /** Grows the bitmap after an expansion (new regions start clean). */
  resize(size: number): void {
    const n = DirtyMap.bytesFor(size, this.regionSize);
    if (n <= this.mem.length) return;
    const mem = new Uint8Array(n);
    mem.set(this.mem);
    const persisted = new Uint8Array(n);
    persisted.set(this.persisted);
    this.mem = mem;
    this.persisted = persisted;
  }

  /** Clears every bit durably. The caller guarantees no write is in flight. */
  async clear(): Promise<void> {
    await this.settle();
    this.mem.fill(0);
    const buf = Buffer.alloc(this.mem.length);
    await pwrite(this.fd, buf, 0, buf.length, 0);
    await fdatasync(this.fd);
    this.persisted.fill(0);
  }

  async close(): Promise<void> {
    await this.settle();
    fs.closeSync(this.fd);
  }

  private async settle(): Promise<void> {
    while (this.inflight || this.queued) await (this.queued ?? this.inflight);
  }

  /** A persist that starts after this call, so it includes every bit set before it. */
  private persist(): Promise<void> {
    if (this.queued) return this.queued;
    if (!this.inflight) {
      this.inflight = this.writeBits().finally(() => {
        this.inflight = null;
      });
      return this.inflight;
    }
    this.queued = this.inflight.then(
      () => {
        this.queued = null;
        return this.persist();
      },
      () => {
        this.queued = null;
        return this.persist();
      },
    );
    return this.queued;
  }

  private first = true;

  private async writeBits(): Promise<void> {
    if (this.first) {
      await this.beforeFirstPersist();
      this.first = false;
    }
    const snapshot = Buffer.from(this.mem);
    await pwrite(this.fd, snapshot, 0, snapshot.length, 0);
    await fdatasync(this.fd);
    for (let i = 0; i < snapshot.length; i++) this.persisted[i] = this.persisted[i]! | snapshot[i]!;
  }
}
