/**
 * An engine-encrypted volume's backups hold its ciphertext (the backup reads replica layers),
 * so each carries the volume's key record (its data key wrapped by the key-encryption key, and
 * how to get that key back: never a key in the clear) in backup.cfg's Parameters, and a volume
 * restored from it takes that record before its engine first starts. Pure decisions here; the
 * Secrets are read and written by volume-key-store.ts.
 */
import { PARAM_KEY_RECORD } from '@longhorn-ts/dataplane/backup/config';
import { parseKeyRecord, type VolumeKeyRecord } from '@longhorn-ts/dataplane/crypt/volume-key-record';
import type { RotationMark } from './data-key-rotation-step.js';

/** The backup.cfg Parameters that carry `record`. */
export function keyRecordParameters(record: VolumeKeyRecord): Record<string, string> {
  return { [PARAM_KEY_RECORD]: JSON.stringify({ envelope: record.envelope, kek: record.kek }) };
}

/** The key record a backup carries (undefined: a backup of a volume without encryption). */
export function carriedKeyRecord(
  parameters: Record<string, string> | null | undefined,
  backup: string,
): VolumeKeyRecord | undefined {
  const text = parameters?.[PARAM_KEY_RECORD];
  if (text === undefined) return undefined;
  return parseKeyRecord(text, `backup ${backup}`);
}

/**
 * Why a backup (or a clone: `use`) of `snapshot` (taken at `created`) cannot carry the volume's
 * current key record, or null. While a data-key rotation runs, and for snapshots taken before it
 * finished, blocks are under the previous data key (or split between both at a watermark no
 * record keeps).
 */
export function backupKeyProblem(
  volume: string,
  snapshot: string,
  created: string | undefined,
  mark: RotationMark | undefined,
  use: 'back up' | 'clone' = 'back up',
): string | null {
  if (!mark?.previous) return null;
  if (!mark.doneAt)
    return `volume ${volume}: its data is being re-encrypted from data key ${mark.from} to ${mark.to}; ${use === 'clone' ? 'clone it' : 'back it up'} once that is done`;
  const at = created === undefined ? Number.NaN : Date.parse(created);
  if (Number.isNaN(at))
    return `volume ${volume}: snapshot ${snapshot} has no creation time, so whether its blocks are under data key ${mark.from} or ${mark.to} is unknown; ${use} a new snapshot`;
  if (at < Date.parse(mark.doneAt))
    return `volume ${volume}: snapshot ${snapshot} was taken before the volume was re-encrypted to data key ${mark.to} (some of its blocks are under data key ${mark.from}); ${use} a snapshot taken after ${mark.doneAt}`;
  return null;
}

/** Why a new volume cannot be cloned from `source` as far as encryption goes, or null. */
export function cloneKeyProblem(
  volume: { name: string; encrypted: boolean },
  source: { name: string; encrypted: boolean },
): string | null {
  if (volume.encrypted === source.encrypted) return null;
  return source.encrypted
    ? `volume ${source.name} is encrypted (its blocks are ciphertext): clone it into a volume with spec.encrypted: true and a crypto Secret that opens its key (volume ${volume.name} is not encrypted)`
    : `volume ${source.name} is not encrypted: clone it into a volume without spec.encrypted (volume ${volume.name} is encrypted)`;
}

/** Why `volume` cannot be restored from a backup carrying `carried` (or none), or null. */
export function restoreKeyProblem(
  volume: { name: string; encrypted: boolean },
  backup: string,
  carried: VolumeKeyRecord | undefined,
): string | null {
  if (volume.encrypted && !carried)
    return `backup ${backup} was taken of a volume without encryption: restore it into a volume without spec.encrypted (volume ${volume.name} is encrypted)`;
  if (!volume.encrypted && carried)
    return `backup ${backup} was taken of an encrypted volume (its blocks are ciphertext): restore it into a volume with spec.encrypted: true and a crypto Secret that opens its key (volume ${volume.name} is not encrypted)`;
  return null;
}
