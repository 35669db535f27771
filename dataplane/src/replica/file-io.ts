import fs from 'node:fs';
import { type FsExt, fsext } from './fsext.js';

/**
 * Positional I/O on raw fds with the callback API: measurably cheaper per request than
 * FileHandle, and these run once or more per block request.
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
  return new Promise((resolve, reject) => {
    const step = (done: number): void => {
      fs.write(fd, buf, offset + done, length - done, position + done, (err, n) => {
        if (err) return reject(err);
        if (done + n < length) step(done + n);
        else resolve();
      });
    };
    step(0);
  });
}

export function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}
