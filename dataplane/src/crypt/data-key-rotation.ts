/**
 * Data-key rotation, the decisions (pure; the I/O is in rotation-job.ts and the engine process).
 *
 * While a volume is re-encrypted from its previous data key to its current one, a watermark
 * splits it: blocks below it are under the current key, blocks at and above it under the
 * previous one. The job moves the watermark one chunk at a time and records it durably (the
 * engine's state file), so a restarted engine resumes where the last one stopped.
 *
 * The crash window: a chunk's new ciphertext may have reached the replicas (all, some, or part
 * of it) while the recorded watermark still says "previous key" for it. Re-encrypting a block
 * that is already under the current key would destroy it, and XTS cannot tell which key made a
 * block. So before a chunk is written, the record names it together with a fingerprint of each
 * of its new ciphertext blocks; a resumed job compares each block of that chunk with its
 * fingerprint and re-encrypts only the blocks that do not match (still under the previous key).
 * No frontend write can land in the chunk between (it holds the range lock every write takes,
 * and the watermark is recorded past it before the lock is released). The unit is the 4 KiB
 * block: an engine that dies leaves each block old or new (a replica applies a request whole or
 * not at all, and a killed process does not tear a pwrite); a block torn inside itself by a
 * power loss on a replica's disk is not told apart and would be lost.
 */
import { createHash } from 'node:crypto';
import { CryptError } from './crypt-error.js';
import { CRYPT_BLOCK } from './xts-cipher.js';

/** Bytes re-encrypted per step (one range lock, one state-file write on each side of it). */
export const ROTATION_CHUNK = 4 * 1024 * 1024;

/** What the engine keeps in its state file about the volume's last data-key rotation. */
export interface RotationRecord {
  /** dataKeyId of the key being replaced, and of the key replacing it. */
  from: string;
  to: string;
  /** Bytes below this offset are under `to`; a multiple of CRYPT_BLOCK. */
  watermark: number;
  /** Bytes per second the job may re-encrypt, kept so a resumed job keeps the pace asked for. */
  bandwidthLimit?: number;
  /**
   * The chunk being written when this was recorded: it starts at `watermark`, and `blocks`
   * holds a fingerprint of each of its new ciphertext blocks ('' for a hole, left a hole).
   */
  inProgress?: { end: number; blocks: string[] };
  /**
   * Set once every block of the volume is under `to`, with the snapshots that existed then:
   * their layers still hold blocks under `from` (a snapshot is ciphertext under the key of the
   * moment), so the previous key is kept while any of them does.
   */
  done?: { at: string; snapshots: string[] };
}

/** The two data keys an engine start was given, by dataKeyId. */
export interface GivenKeys {
  current: string;
  previous?: string;
}

export type ResumePlan =
  | { kind: 'none' }
  | { kind: 'run'; record: RotationRecord }
  | { kind: 'done'; record: RotationRecord }
  | { kind: 'refuse'; reason: string };

const DATA_KEY_LABEL = Buffer.from('longhorn-ts data key id\0');

/** A data key's fingerprint for records and messages ("dk-" + 16 hex); never the key. */
export function dataKeyId(key: Buffer): string {
  return `dk-${createHash('sha256').update(DATA_KEY_LABEL).update(key).digest('hex').slice(0, 16)}`;
}

const ZERO_BLOCK = Buffer.alloc(CRYPT_BLOCK);

function isHole(block: Buffer): boolean {
  return ZERO_BLOCK.equals(block);
}

/** Fingerprint of one ciphertext block, '' for a hole (all zeros). */
export function blockFingerprint(block: Buffer): string {
  return isHole(block) ? '' : createHash('sha256').update(block).digest('base64').slice(0, 22);
}

/**
 * What an engine start does about rotation, from the keys it was given and what the last engine
 * recorded. A start whose keys do not match the record is refused: serving with the wrong key
 * would return garbage (e.g. an instance manager restarting a crashed engine with the arguments
 * it was first started with, from before the rotation).
 */
export function planResume(volume: string, given: GivenKeys, saved: RotationRecord | undefined): ResumePlan {
  // A new rotation: its record is written when it starts, so none (or the last one's) may be here.
  if (given.previous && (!saved || (saved.done && saved.to === given.previous))) {
    return { kind: 'run', record: { from: given.previous, to: given.current, watermark: 0 } };
  }
  if (!saved) return { kind: 'none' };
  if (saved.to !== given.current) {
    return {
      kind: 'refuse',
      reason: `volume ${volume}: its data was re-encrypted to data key ${saved.to}${saved.done ? '' : ' (in progress)'}, but this start was given data key ${given.current} (stale key arguments: start it with the volume's current key record)`,
    };
  }
  if (saved.done) return { kind: 'done', record: saved };
  if (given.previous !== saved.from) {
    return {
      kind: 'refuse',
      reason: `volume ${volume}: re-encryption from data key ${saved.from} to ${saved.to} is at byte ${saved.watermark}; this start was not given the previous data key ${saved.from}`,
    };
  }
  return { kind: 'run', record: saved };
}

/** Which key a block is under: the current one below the watermark, the previous one above. */
export function keyOfBlock(block: number, watermark: number): 'current' | 'previous' {
  return block * CRYPT_BLOCK < watermark ? 'current' : 'previous';
}

/** [offset, offset+length) cut at the watermark: at most two runs, each under one key. */
export function keyRuns(
  offset: number,
  length: number,
  watermark: number,
): { offset: number; length: number; key: 'current' | 'previous' }[] {
  const end = offset + length;
  if (end <= watermark) return [{ offset, length, key: 'current' }];
  if (offset >= watermark) return [{ offset, length, key: 'previous' }];
  return [
    { offset, length: watermark - offset, key: 'current' },
    { offset: watermark, length: end - watermark, key: 'previous' },
  ];
}

/** The next chunk to re-encrypt, or null when the watermark has reached the volume's end. */
export function nextChunk(
  watermark: number,
  size: number,
  chunk = ROTATION_CHUNK,
): { offset: number; length: number } | null {
  if (watermark >= size) return null;
  return { offset: watermark, length: Math.min(chunk, size - watermark) };
}

/**
 * For each block of a chunk as read back now, whether it still needs re-encrypting. Without
 * fingerprints (a chunk no one started writing) every non-hole block does; with them (the chunk
 * a stopped engine was writing) only the blocks that differ from their new ciphertext.
 */
export function blocksToReencrypt(current: Buffer, fingerprints?: readonly string[]): boolean[] {
  const blocks = current.length / CRYPT_BLOCK;
  const out: boolean[] = [];
  for (let b = 0; b < blocks; b++) {
    const block = current.subarray(b * CRYPT_BLOCK, (b + 1) * CRYPT_BLOCK);
    if (isHole(block)) out.push(false);
    else out.push(fingerprints === undefined || fingerprints[b] !== blockFingerprint(block));
  }
  return out;
}

/** Snapshots of a finished rotation that still exist, so still hold blocks under its previous key. */
export function snapshotsUsingPrevious(
  record: RotationRecord | undefined,
  chain: readonly string[],
): string[] {
  if (!record?.done) return [];
  const present = new Set(chain);
  return record.done.snapshots.filter((s) => present.has(s));
}

export type RotationState = 'none' | 'running' | 'done' | 'failed';

export interface RotationStatus {
  state: RotationState;
  from: string;
  to: string;
  bytesDone: number;
  bytesTotal: number;
  percent: number;
  error: string;
  /** Snapshots (of a finished rotation) whose layers still hold blocks under `from`. */
  snapshotsUsingPrevious: string[];
}

/** The status a record shows; `size` is the volume's size now. */
export function rotationStatus(
  record: RotationRecord | undefined,
  size: number,
  error = '',
  snapshots: string[] = [],
): RotationStatus {
  if (!record)
    return {
      state: 'none',
      from: '',
      to: '',
      bytesDone: 0,
      bytesTotal: 0,
      percent: 0,
      error: '',
      snapshotsUsingPrevious: [],
    };
  const done = record.done ? size : Math.min(record.watermark, size);
  return {
    state: record.done ? 'done' : error ? 'failed' : 'running',
    from: record.from,
    to: record.to,
    bytesDone: done,
    bytesTotal: size,
    percent: size === 0 ? 100 : Math.floor((100 * done) / size),
    error,
    snapshotsUsingPrevious: snapshots,
  };
}

/** Refuses a revert onto a snapshot that holds blocks under a key other than the current one. */
export function checkRevert(
  volume: string,
  record: RotationRecord | undefined,
  snapshot: string,
  chain: readonly string[],
): void {
  if (!record) return;
  // Taken before the rotation finished: some of its blocks are under the previous key, and a
  // revert would put them back under a watermark that says "current key".
  const before = record.done ? record.done.snapshots : chain;
  if (before.includes(snapshot)) {
    throw new CryptError(
      'EPERM',
      `volume ${volume}: snapshot ${snapshot} was taken before the volume was re-encrypted to data key ${record.to}; reverting to it is refused (its blocks are under data key ${record.from})`,
    );
  }
}
