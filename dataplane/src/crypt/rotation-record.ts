/**
 * Where a data-key rotation's record lives, and which copy a start believes (pure).
 *
 * The engine keeps the record in its state file and on every replica that takes writes
 * (Engine.saveKeyRotation), each time before it goes on: before a chunk is written (naming it
 * with its fingerprints) and after it is flushed everywhere (the watermark past it). A replica
 * that misses a save is ejected, so it reads as stale at the next start. An engine started on
 * another node (or after its state file was lost) therefore finds the record on the replicas it
 * starts from; copies differ only by saves that were in flight when the last engine stopped, and
 * every one of them is safe to resume from (the fingerprints settle the chunk in between), the
 * latest one doing the least work again.
 */
import { CryptError } from './crypt-error.js';
import type { GivenKeys, RotationRecord } from './data-key-rotation.js';
import { CRYPT_BLOCK } from './xts-cipher.js';

export function encodeRotationRecord(record: RotationRecord): string {
  return JSON.stringify(record);
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isOffset = (v: unknown): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v % CRYPT_BLOCK === 0;
const isKeyId = (v: unknown): v is string => typeof v === 'string' && /^dk-[0-9a-f]{16}$/.test(v);
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

/** A record as saved by encodeRotationRecord; anything else is refused, naming `where`. */
export function decodeRotationRecord(text: string, where: string): RotationRecord {
  const bad = (why: string) =>
    new CryptError('INVALID_ARGUMENT', `data-key rotation record of ${where}: ${why}`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw bad('not JSON');
  }
  if (!isObject(v)) throw bad('not an object');
  const { from, to, watermark, bandwidthLimit, inProgress, done } = v;
  if (!isKeyId(from) || !isKeyId(to)) throw bad('bad data key ids');
  if (!isOffset(watermark)) throw bad(`bad watermark ${String(watermark)}`);
  if (bandwidthLimit !== undefined && !(typeof bandwidthLimit === 'number' && bandwidthLimit > 0))
    throw bad('bad bandwidth limit');
  if (
    inProgress !== undefined &&
    !(
      isObject(inProgress) &&
      isOffset(inProgress.end) &&
      inProgress.end > watermark &&
      isStrings(inProgress.blocks)
    )
  )
    throw bad('bad chunk in progress');
  if (done !== undefined && !(isObject(done) && typeof done.at === 'string' && isStrings(done.snapshots)))
    throw bad('bad done mark');
  return {
    from,
    to,
    watermark,
    ...(bandwidthLimit !== undefined ? { bandwidthLimit: bandwidthLimit as number } : {}),
    ...(inProgress !== undefined
      ? { inProgress: inProgress as unknown as NonNullable<RotationRecord['inProgress']> }
      : {}),
    ...(done !== undefined ? { done: done as unknown as NonNullable<RotationRecord['done']> } : {}),
  };
}

/** How far a record says re-encryption got; a chunk named in progress comes after its start. */
function progress(r: RotationRecord): number {
  if (r.done) return Number.POSITIVE_INFINITY;
  return r.watermark + (r.inProgress ? 0.5 : 0);
}

/**
 * The record a start goes by, from every copy it has (the state file's first, then the
 * replicas'). Copies of the rotation to the current key: the furthest. Else a finished rotation
 * to the previous key (a new rotation whose first record was never saved: it starts from 0).
 * Else the first copy, which planResume then judges (it refuses keys that do not fit it).
 */
export function latestRotationRecord(
  given: GivenKeys,
  copies: readonly (RotationRecord | undefined)[],
): RotationRecord | undefined {
  const records = copies.filter((r): r is RotationRecord => r !== undefined);
  const same = records.filter((r) => r.to === given.current);
  if (same.length > 0) return same.reduce((best, r) => (progress(r) > progress(best) ? r : best));
  return records.find((r) => r.done !== undefined && r.to === given.previous) ?? records[0];
}
