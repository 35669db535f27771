import fs from 'node:fs';
import { type FsExt, fsext } from './fsext.js';

/**
 * Positional I/O on raw fds with the callback API: measurably cheaper per request than
 * FileHandle, and these run once or more per block request. Small reads and writes that the
 * page cache serves run on the calling thread instead (see pread, InlineWrites).
 */
export function pread(
  fd: number,
  buf: Buffer,
  offset: number,
  length: number,
  position: number,
): Promise<void> {
  // Bytes the page cache holds are copied at once (preadv2 RWF_NOWAIT, never waiting for the
  // disk); the rest goes through libuv's pool. At 4 KiB the pool's round trip (two wake-ups)
  // cost more CPU than the whole request otherwise; large reads keep the pool's parallelism.
  let first = 0;
  if (length <= NOWAIT_MAX && length > 0) {
    const noWait = preadNoWait();
    if (noWait) {
      let n: number;
      try {
        n = noWait(fd, buf, offset, length, position);
      } catch (err) {
        return Promise.reject(err);
      }
      if (n === length) return RESOLVED;
      if (n === 0) {
        buf.fill(0, offset, offset + length); // past the end of a (pre-expansion) layer file
        return RESOLVED;
      }
      if (n > 0) first = n;
    }
  }
  return new Promise((resolve, reject) => {
    const step = (done: number): void => {
      fs.read(fd, buf, offset + done, length - done, position + done, (err, n) => {
        if (err) return reject(err);
        if (n === 0) {
          // Past the end of a (pre-expansion) layer file: the rest reads as zeros.
          buf.fill(0, offset + done, offset + length);
          return resolve();
        }
        if (done + n < length) step(done + n);
        else resolve();
      });
    };
    step(first);
  });
}

/** Largest read tried without the thread pool. */
const NOWAIT_MAX = 128 * 1024;
const RESOLVED = Promise.resolve();
let noWaitFn: FsExt['preadNoWait'] | null | undefined;

/** The addon's preadNoWait, or null when the addon is missing or older than it. */
function preadNoWait(): FsExt['preadNoWait'] | null {
  if (noWaitFn === undefined) {
    try {
      const ext = fsext();
      noWaitFn = typeof ext.preadNoWait === 'function' ? ext.preadNoWait.bind(ext) : null;
    } catch {
      noWaitFn = null;
    }
  }
  return noWaitFn;
}

export function pwrite(
  fd: number,
  buf: Buffer,
  offset: number,
  length: number,
  position: number,
): Promise<void> {
  let first = 0;
  if (length <= INLINE_WRITE_MAX && length > 0 && inlineWrites.allowed()) {
    const t0 = performance.now();
    try {
      while (first < length) {
        const n = fs.writeSync(
          fd,
          buf,
          offset + first,
          Math.min(WRITE_PIECE, length - first),
          position + first,
        );
        first += n;
        if (n === 0) break;
      }
    } catch (err) {
      return Promise.reject(err);
    } finally {
      inlineWrites.took(t0, performance.now());
    }
    if (first === length) return RESOLVED;
  }
  return new Promise((resolve, reject) => {
    const step = (done: number): void => {
      const n = Math.min(WRITE_PIECE, length - done);
      fs.write(fd, buf, offset + done, n, position + done, (err, written) => {
        if (err) return reject(err);
        // Regular files never take 0 bytes (a full disk is ENOSPC); anything else would loop.
        if (written === 0) return reject(Object.assign(new Error('pwrite wrote 0 bytes'), { code: 'EIO' }));
        if (done + written < length) step(done + written);
        else resolve();
      });
    };
    step(first);
  });
}

/**
 * Largest single pwrite. The page cache holds what one pwrite brings in as one folio of up to
 * its size, and ext4 walks every block of a folio on each later write into it: here a 4 KiB
 * overwrite cost 12.6 µs of kernel time in data written by 1 MiB pwrites, 4.6 µs after 256 KiB
 * ones, 4.2 µs after 128 KiB ones and 1.1 µs after 4 KiB ones. A volume filled sequentially
 * and then updated at random (a database's life) pays that on every write, on every replica.
 * Smaller pieces cost more syscalls per MiB: engine-bench, alternating runs, 1 MiB write QD16
 * at 158-159 µs per MiB with 256 KiB pieces against 166-209 with 128 KiB.
 */
const WRITE_PIECE = 256 * 1024;

/**
 * Largest write made on the calling thread (see InlineWrites). A 1 MiB write into the page
 * cache holds the event loop ~0.2 ms, and saved ~20 µs of CPU per MiB against the pool's
 * hand-off (engine-bench 1 MiB write QD16, 1 replica / nbdkit, alternating runs: 1.02-1.17x at
 * 157-179 µs per MiB, against 0.98-1.08x at 183-195 with 128 KiB).
 */
const INLINE_WRITE_MAX = 1024 * 1024;

/**
 * When small writes run on the calling thread. A buffered 4 KiB pwrite that the page cache
 * absorbs costs ~5 us here; libuv's pool costs ~35 us of system time around it (a wake-up of
 * a worker, its completion signal, the queue's futexes), which made the pool hand-off most of a
 * replica server's CPU per write. But a write the kernel holds back (dirty-page throttling, a
 * journal commit) stalls the whole event loop. So the time inline writes spend beyond
 * `slowMs` each is summed per second; once it passes `stallBudgetMs` the writes go to the pool
 * for `backoffMs`. A few slow writes (a busy machine preempting the thread mid-write: ~1 in
 * 10,000 took over 2 ms here at a load average of 10) stay inline; a disk that pushes back
 * moves them off the event loop.
 */
export class InlineWrites {
  private poolUntil = 0;
  private windowStart = 0;
  private stalled = 0;

  constructor(
    private readonly slowMs = 1,
    private readonly stallBudgetMs = 20,
    private readonly backoffMs = 1000,
  ) {}

  allowed(now = performance.now()): boolean {
    return now >= this.poolUntil;
  }

  /** A write ran inline from `start` to `end` (ms, performance.now()). */
  took(start: number, end: number): void {
    const d = end - start;
    if (d <= this.slowMs) return;
    if (start - this.windowStart > 1000) {
      this.windowStart = start;
      this.stalled = 0;
    }
    this.stalled += d;
    if (this.stalled > this.stallBudgetMs) {
      this.poolUntil = end + this.backoffMs;
      this.stalled = 0;
    }
  }
}

const inlineWrites = new InlineWrites();

export function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}
