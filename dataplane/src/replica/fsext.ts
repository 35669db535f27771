import { createRequire } from 'node:module';
import { ReplicaError } from './errors.js';

/**
 * The native addon from dataplane/native (built by scripts/setup.sh). Node has neither
 * lseek(SEEK_DATA/SEEK_HOLE) nor fallocate(PUNCH_HOLE); the README says why we use an addon
 * instead of a persisted allocation map.
 */
export interface FsExt {
  /** Next data offset at or after `offset`, or -1 when only holes follow. */
  seekData(fd: number, offset: number): number;
  /** Next hole offset at or after `offset` (the file size counts as a hole). */
  seekHole(fd: number, offset: number): number;
  /** Frees [offset, offset + length) without changing the file size. */
  punchHole(fd: number, offset: number, length: number): void;
  /** Exclusive non-blocking flock; false when another open file description holds it. */
  tryLock(fd: number): boolean;
  /**
   * preadv2(RWF_NOWAIT) into buffer[offset, offset + length): only what the page cache holds,
   * never waiting for the disk. Bytes read (maybe short, 0 at end of file), or -1 when nothing
   * could be read without blocking. Optional: an addon built before it lacks it.
   */
  preadNoWait?(fd: number, buffer: Buffer, offset: number, length: number, position: number): number;
}

let loaded: FsExt | undefined;

export function fsext(): FsExt {
  if (loaded) return loaded;
  // src/replica and dist/replica are both two levels below the workspace root.
  const path = new URL('../../native/build/Release/fsext.node', import.meta.url).pathname;
  try {
    loaded = createRequire(import.meta.url)(path) as FsExt;
  } catch (err) {
    throw new ReplicaError(
      'INVALID_ARGUMENT',
      `native addon ${path} is missing; run scripts/setup.sh (or bash dataplane/native/build.sh)`,
      { file: path },
      err,
    );
  }
  return loaded;
}
