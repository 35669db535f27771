/**
 * The local tool's crypto Secret: a file of KEY=VALUE lines with the fields of Longhorn's crypto
 * Secret (CRYPTO_KEY_VALUE, CRYPTO_KEY_PROVIDER, CRYPTO_PBKDF, ...; or CRYPTO_KEY_PROVIDER=kms with
 * KMS_KEY_ID, KMS_ENDPOINT, ...; crypt/crypto-secret.ts), as `volume up --encrypt --crypto-secret
 * FILE` takes it. The volume keeps its key record (wrapped data key, KDF salt or KMS blob) in
 * volume.json; every engine start gets the KEK from the file again, handed over in a 0600 file
 * removed once the engine read it.
 */
import { resolve } from 'node:path';
import { readCredentials } from '../backup/credentials.js';
import { type KekSource, parseCryptoSecret } from '../crypt/crypto-secret.js';
import { unwrapDataKey } from '../crypt/key-envelope.js';
import { kmsClient } from '../crypt/kms-kek.js';
import {
  createVolumeKeys,
  type KeyContext,
  openVolumeKek,
  rotateVolumeKek,
  type VolumeKeyRecord,
} from '../crypt/volume-key-record.js';
import type { VolumeEncryption } from './volume-encryption.js';

async function load(volume: string, file: string): Promise<{ source: KekSource; ctx: KeyContext }> {
  const path = resolve(file);
  const sourceName = `crypto secret file ${path}`;
  const source = parseCryptoSecret(await readCredentials(path), sourceName);
  return {
    source,
    ctx: { volume, sourceName, ...(source.provider === 'kms' ? { kms: kmsClient(source) } : {}) },
  };
}

function recordOf(enc: VolumeEncryption): VolumeKeyRecord {
  if (!enc.cryptoSecret) throw new Error('the volume is not encrypted with a crypto secret file');
  const { keyFile: _k, cryptoSecret, ...envelope } = enc;
  return { envelope, kek: cryptoSecret.kek };
}

function encryptionOf(record: VolumeKeyRecord, file: string): VolumeEncryption {
  return { ...record.envelope, keyFile: '', cryptoSecret: { file: resolve(file), kek: record.kek } };
}

/**
 * A restored volume's encryption: the key record its backup carries, which the crypto secret
 * `file` must open (the KEK is opened once to check it, then zeroed).
 */
export async function cryptoSecretEncryptionOf(
  volume: string,
  record: VolumeKeyRecord,
  file: string,
): Promise<VolumeEncryption> {
  const { source, ctx } = await load(volume, file);
  try {
    const kek = await openVolumeKek(record, source, ctx);
    try {
      unwrapDataKey(record.envelope, kek, `volume ${volume}`).fill(0);
    } finally {
      kek.fill(0);
    }
    return encryptionOf(record, file);
  } finally {
    ctx.kms?.destroy();
  }
}

/** A new volume's encryption from the crypto secret file (a fresh data key, a new KEK). */
export async function newCryptoSecretEncryption(volume: string, file: string): Promise<VolumeEncryption> {
  const { source, ctx } = await load(volume, file);
  try {
    const { record, kek } = await createVolumeKeys(source, ctx);
    kek.fill(0);
    return encryptionOf(record, file);
  } finally {
    ctx.kms?.destroy();
  }
}

/** The KEK for an engine start, from `file` (default: the file the volume remembers). */
export async function cryptoSecretKek(volume: string, enc: VolumeEncryption, file?: string): Promise<Buffer> {
  const { source, ctx } = await load(volume, file ?? enc.cryptoSecret?.file ?? '');
  try {
    return await openVolumeKek(recordOf(enc), source, ctx);
  } finally {
    ctx.kms?.destroy();
  }
}

/** KEK rotation from the file (its CRYPTO_PREVIOUS_KEY_VALUE / KMS_PREVIOUS_KEY_ID open the old wrap). */
export async function rotatedCryptoSecretEncryption(
  volume: string,
  enc: VolumeEncryption,
  file: string,
): Promise<VolumeEncryption> {
  const { source, ctx } = await load(volume, file);
  try {
    const { record, kek } = await rotateVolumeKek(recordOf(enc), source, ctx);
    kek.fill(0);
    return encryptionOf(record, file);
  } finally {
    ctx.kms?.destroy();
  }
}
