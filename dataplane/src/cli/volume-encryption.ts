/**
 * A local volume's encryption: its data key wrapped by the KEK in a key file, kept in
 * DIR/volume.json (the wrapped key and key id only; never a key), and the engine flags that
 * hand both to every engine start. In a cluster the wrapped key and key id would live with the
 * Volume resource and the KEK in a Secret or a KMS; the engine takes them the same way.
 */
import { resolve } from 'node:path';
import {
  formatEnvelopeArg,
  type KeyEnvelope,
  newDataKey,
  readKekFile,
  rewrapDataKey,
  wrapDataKey,
} from '../crypt/index.js';
import type { RecordKek } from '../crypt/volume-key-record.js';

export interface VolumeEncryption extends KeyEnvelope {
  /** The key file the engine reads its KEK from (absolute), the last one that worked; '' with a crypto secret file. */
  keyFile: string;
  /** KEK from a crypto secret file (crypto-secret-file.ts): the file and how to get the KEK back (no key). */
  cryptoSecret?: { file: string; kek: RecordKek };
  /** The data key's fingerprint (dk-..., crypt/data-key-rotation.ts), recorded at its first rotation. */
  dataKeyId?: string;
  /**
   * The data key a data-key rotation replaces (wrapped by the same KEK): kept while the volume is
   * re-encrypted, and after while snapshots taken before the end still hold blocks under it.
   */
  previous?: KeyEnvelope & { dataKeyId: string };
}

/** A fresh data key for a new volume, wrapped by the KEK in `keyFile`. */
export async function newVolumeEncryption(keyFile: string): Promise<VolumeEncryption> {
  const path = resolve(keyFile);
  const kek = await readKekFile(path);
  const dataKey = newDataKey();
  try {
    return { ...wrapDataKey(dataKey, kek), keyFile: path };
  } finally {
    dataKey.fill(0);
    kek.fill(0);
  }
}

/** The data key re-wrapped from the KEK in `oldKeyFile` to the one in `newKeyFile`. */
export async function rotatedEncryption(
  volume: string,
  current: VolumeEncryption,
  oldKeyFile: string,
  newKeyFile: string,
): Promise<VolumeEncryption> {
  const [oldKek, newKek] = [await readKekFile(resolve(oldKeyFile)), await readKekFile(resolve(newKeyFile))];
  if (current.cryptoSecret)
    throw new Error(
      `volume ${volume}: its KEK comes from a crypto secret file; rotate with --crypto-secret FILE`,
    );
  const { keyFile: _, cryptoSecret: _c, ...envelope } = current;
  return { ...rewrapDataKey(envelope, oldKek, newKek, `volume ${volume}`), keyFile: resolve(newKeyFile) };
}

/** The engine's flags for an encrypted volume (none for a plain one). */
export function encryptionArgs(enc: VolumeEncryption | undefined, keyFile?: string): string[] {
  if (!enc) return [];
  const { keyFile: remembered, cryptoSecret: _, previous, ...envelope } = enc;
  return [
    '--encryption',
    formatEnvelopeArg(envelope),
    ...(previous ? ['--previous-encryption', formatEnvelopeArg(previous)] : []),
    '--kek-file',
    resolve(keyFile ?? remembered),
  ];
}
