/**
 * The key record a local backup of an engine-encrypted volume carries (backup.cfg Parameters
 * PARAM_KEY_RECORD: the data key wrapped by the KEK and how to get the KEK back, never a key in
 * the clear; the same field the operator writes), and how `volume up --from-backup` takes it: a
 * backup holds the volume's ciphertext, so the restored volume must read it with the same data
 * key. A volume encrypted with a key file records `{ provider: 'key-file' }`: that file is the
 * KEK, to be given again at the restore.
 */
import { resolve } from 'node:path';
import { PARAM_KEY_RECORD } from '../backup/config.js';
import { BackupError } from '../backup/errors.js';
import type { RotationStatus } from '../crypt/data-key-rotation.js';
import { readKekFile } from '../crypt/kek-material.js';
import { checkEnvelope, type KeyEnvelope, unwrapDataKey } from '../crypt/key-envelope.js';
import { parseKeyRecord } from '../crypt/volume-key-record.js';
import { cryptoSecretEncryptionOf } from './crypto-secret-file.js';
import type { VolumeEncryption } from './volume-encryption.js';

/** The Parameters a backup of the volume carries. */
export function keyRecordParameters(enc: VolumeEncryption): Record<string, string> {
  const envelope: KeyEnvelope = { cipher: enc.cipher, keyId: enc.keyId, wrappedKey: enc.wrappedKey };
  const kek = enc.cryptoSecret?.kek ?? { provider: 'key-file' };
  return { [PARAM_KEY_RECORD]: JSON.stringify({ envelope, kek }) };
}

/**
 * Refuses a backup of `snapshot` whose blocks are not all under the current data key: while a
 * data-key rotation runs, and of a snapshot taken before one finished.
 */
export function checkBackupKeys(volume: string, snapshot: string, status: RotationStatus): void {
  if (status.state === 'none' || status.from === '') return;
  if (status.state !== 'done')
    throw new BackupError(
      'INVALID_ARGUMENT',
      `volume ${volume}: its data is being re-encrypted from data key ${status.from} to ${status.to}; back it up once that is done`,
    );
  if (status.snapshotsUsingPrevious.includes(snapshot))
    throw new BackupError(
      'INVALID_ARGUMENT',
      `volume ${volume}: snapshot ${snapshot} was taken before the volume was re-encrypted to data key ${status.to} (some of its blocks are under data key ${status.from}); back up a snapshot taken after`,
    );
}

export interface RestoreKeys {
  keyFile?: string;
  cryptoSecret?: string;
}

/**
 * The restored volume's encryption from what backup `backup` carries and the key given (the
 * KEK it was wrapped with): undefined for a backup of a plain volume. Refused, naming what to
 * give, when the two do not fit or the key does not open the data key.
 */
export async function restoredEncryption(
  volume: string,
  backup: string,
  parameters: Record<string, string> | null,
  keys: RestoreKeys,
): Promise<VolumeEncryption | undefined> {
  const text = parameters?.[PARAM_KEY_RECORD];
  const given = keys.keyFile !== undefined || keys.cryptoSecret !== undefined;
  if (text === undefined) {
    if (given)
      throw new BackupError(
        'INVALID_ARGUMENT',
        `backup ${backup} was taken of a volume without encryption: restore it without --key-file or --crypto-secret`,
      );
    return undefined;
  }
  let carried: { envelope: KeyEnvelope; kek: { provider?: unknown } };
  try {
    carried = JSON.parse(text) as typeof carried;
    checkEnvelope(carried.envelope);
  } catch (err) {
    throw new BackupError(
      'CORRUPT_CONFIG',
      `backup ${backup}: its key record is damaged: ${(err as Error).message}`,
    );
  }
  const keyFileVolume = carried.kek?.provider === 'key-file';
  if (keyFileVolume ? keys.keyFile === undefined : keys.cryptoSecret === undefined)
    throw new BackupError(
      'INVALID_ARGUMENT',
      `backup ${backup} was taken of an encrypted volume (its blocks are ciphertext): give ${
        keyFileVolume ? '--key-file FILE' : '--crypto-secret FILE'
      }, the key-encryption key its data key was wrapped with (key ${carried.envelope.keyId})`,
    );
  if (!keyFileVolume)
    return cryptoSecretEncryptionOf(volume, parseKeyRecord(text, `backup ${backup}`), keys.cryptoSecret!);
  const path = resolve(keys.keyFile!);
  const kek = await readKekFile(path);
  try {
    unwrapDataKey(carried.envelope, kek, `backup ${backup}`).fill(0);
  } finally {
    kek.fill(0);
  }
  return { ...carried.envelope, keyFile: path };
}
