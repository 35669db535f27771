import fs from 'node:fs';
import { pwrite } from './file-io.js';

/**
 * Writes into layers being imported (rebuild, restore and clone targets) that bypass the page
 * cache (O_DIRECT). An import writes a whole layer once and nobody reads it before the commit,
 * so caching it only costs: the kernel copies every byte into newly allocated page-cache pages
 * (on this VM a fresh page costs ~5 us on first touch: 1 GiB of rebuilt data took 1.3-2.4 s of
 * the target server's CPU in that copy alone) and the commit's fdatasync writes it all again.
 * O_DIRECT needs the memory, offset and length aligned; Node's Buffers are not page-aligned but a
 * WebAssembly memory is, so the data is copied into one of those first (a user-space copy into
 * memory that stays resident). Anything unaligned, or a file system that refuses O_DIRECT, takes
 * the page cache as before. Durability is unchanged: the commit still fdatasyncs every layer.
 */

/** Offsets and lengths written directly are multiples of this (any logical block size divides it). */
const ALIGN = 4096;
/** One staging buffer: a write larger than this goes in several steps. */
const SLOT = 2 * 1024 * 1024;
/** Slots carved from one WebAssembly memory (its pages are 64 KiB, so every slot is aligned). */
const SLOTS_PER_MEMORY = 8;
/** Idle slots kept. */
const MAX_IDLE = 16;

const idle: Buffer[] = [];

/** The one piece of the WebAssembly API used here (the project's TypeScript libs lack its types). */
declare const WebAssembly: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer } };

function acquireSlot(): Buffer {
  const slot = idle.pop();
  if (slot) return slot;
  const memory = new WebAssembly.Memory({ initial: (SLOT * SLOTS_PER_MEMORY) / 65536 });
  const all = Buffer.from(memory.buffer);
  for (let i = 1; i < SLOTS_PER_MEMORY; i++) idle.push(all.subarray(i * SLOT, (i + 1) * SLOT));
  return all.subarray(0, SLOT);
}

function releaseSlot(slot: Buffer): void {
  if (idle.length < MAX_IDLE) idle.push(slot);
}

/**
 * A layer file opened O_DIRECT for an import's writes, beside its ordinary fd. Once one write
 * could not go directly (unaligned, or refused), every later one goes through the page cache:
 * a cached page and a direct write to the same page in flight at once could leave the page's
 * stale bytes to be written back over the direct ones, so the switch waits for the direct
 * writes in flight to finish.
 */
export class DirectFile {
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private off = false;

  private constructor(private fd: number | null) {}

  /** The file opened for direct writes, or undefined where that is not to be had. */
  static open(file: string): DirectFile | undefined {
    const flag = fs.constants.O_DIRECT;
    // No WebAssembly (node --jitless): no aligned memory to write from.
    if (flag === undefined || typeof WebAssembly === 'undefined') return undefined;
    try {
      return new DirectFile(fs.openSync(file, fs.constants.O_WRONLY | flag));
    } catch {
      return undefined;
    }
  }

  /**
   * Writes `data` at `position` directly when it can. False: write it through the page cache
   * (no direct write that could share a page with it is in flight once this resolved).
   */
  async write(data: Buffer, position: number): Promise<boolean> {
    if (!this.off && this.fd !== null && aligned(position, data.length)) {
      this.inFlight++;
      try {
        if (await writeDirect(this.fd, data, position)) return true;
        // Refused: this aligned range shares no page with the other direct writes.
        this.off = true;
        return false;
      } finally {
        this.inFlight--;
        if (this.inFlight === 0) for (const go of this.waiting.splice(0)) go();
      }
    }
    this.off = true;
    if (this.inFlight > 0) await new Promise<void>((resolve) => this.waiting.push(resolve));
    return false;
  }

  /** Closes the O_DIRECT fd; only when no write is in flight (the store's gate sees to that). */
  close(): void {
    if (this.fd === null) return;
    try {
      fs.closeSync(this.fd);
    } catch {
      // Already closed: nothing to release.
    }
    this.fd = null;
  }
}

function aligned(position: number, length: number): boolean {
  return length > 0 && position % ALIGN === 0 && length % ALIGN === 0;
}

/**
 * Writes `data` at `position` through the O_DIRECT fd, via staging slots. False when the kernel
 * refused the alignment (EINVAL) or no aligned memory could be had. Other errors reject.
 */
async function writeDirect(fd: number, data: Buffer, position: number): Promise<boolean> {
  let slot: Buffer;
  try {
    slot = acquireSlot();
  } catch {
    return false; // no address space for another WebAssembly memory: the page cache will do
  }
  try {
    for (let done = 0; done < data.length; done += SLOT) {
      const n = Math.min(SLOT, data.length - done);
      data.copy(slot, 0, done, done + n);
      await pwrite(fd, slot, 0, n, position + done);
    }
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EINVAL') return false;
    throw err;
  } finally {
    releaseSlot(slot);
  }
}
