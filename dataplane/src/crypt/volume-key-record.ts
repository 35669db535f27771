/**
 * A volume's key record: its data key wrapped by a KEK (the engine's envelope), and how to get
 * that KEK back from a crypto Secret: the passphrase KDF's parameters and salt, or the KMS blob.
 * Nothing in it is a key in the clear; it is kept apart from the KEK's source (the operator keeps
 * it in a Secret of its own; README "Encryption").
 *
 * Opening checks that the KEK from the Secret is the one the envelope names, and says which
 * Secret and which key when it is not. Rotation re-wraps the same data key: no data touched.
 */
import type { KMSClient } from '@aws-sdk/client-kms';
import { CryptError } from './crypt-error.js';
import type { KekSource } from './crypto-secret.js';
import { kekId } from './kek-material.js';
import {
  checkEnvelope,
  type KeyEnvelope,
  newDataKey,
  rewrapDataKey,
  unwrapDataKey,
  wrapDataKey,
} from './key-envelope.js';
import { decryptKmsKek, generateKmsKek, type KmsWrappedKek, reencryptKmsKek } from './kms-kek.js';
import {
  checkPassphraseKdf,
  derivePassphraseKek,
  newPassphraseKdf,
  type PassphraseKdf,
} from './passphrase-kek.js';

export type RecordKek =
  | { provider: 'secret'; kdf: PassphraseKdf }
  | { provider: 'kms'; wrapped: KmsWrappedKek };

export interface VolumeKeyRecord {
  envelope: KeyEnvelope;
  kek: RecordKek;
}

/** What opening needs besides the record: the volume, the Secret's name for messages, a KMS client. */
export interface KeyContext {
  volume: string;
  /** e.g. "crypto Secret longhorn-system/longhorn-crypto". */
  sourceName: string;
  kms?: KMSClient;
}

/** A new volume's keys: a random data key wrapped by a new KEK from `source`. Returns the KEK too (zero it after use). */
export async function createVolumeKeys(
  source: KekSource,
  ctx: KeyContext,
): Promise<{ record: VolumeKeyRecord; kek: Buffer }> {
  const { kek, recordKek } = await newKek(source, ctx);
  const dataKey = newDataKey();
  try {
    return { record: { envelope: wrapDataKey(dataKey, kek), kek: recordKek }, kek };
  } finally {
    dataKey.fill(0);
  }
}

/** The volume's KEK from `source`, checked against the envelope (refusals name the Secret and the key). */
export async function openVolumeKek(
  record: VolumeKeyRecord,
  source: KekSource,
  ctx: KeyContext,
  use: 'current' | 'previous' = 'current',
): Promise<Buffer> {
  const { envelope } = record;
  const prefix = `${ctx.sourceName}: volume ${ctx.volume} is encrypted with key ${envelope.keyId}`;
  if (record.kek.provider !== source.provider) {
    throw new CryptError(
      'EPERM',
      `${prefix} from CRYPTO_KEY_PROVIDER=${record.kek.provider}; the Secret says ${source.provider}`,
    );
  }
  let kek: Buffer;
  if (record.kek.provider === 'secret' && source.provider === 'secret') {
    const passphrase = use === 'previous' ? source.previousPassphrase : source.passphrase;
    const field = use === 'previous' ? 'CRYPTO_PREVIOUS_KEY_VALUE' : 'CRYPTO_KEY_VALUE';
    if (!passphrase) throw new CryptError('EPERM', `${prefix}; the Secret has no ${field}`);
    kek = await derivePassphraseKek(passphrase, record.kek.kdf);
    if (kekId(kek) !== envelope.keyId) {
      const given = kekId(kek);
      kek.fill(0);
      throw new CryptError(
        'EPERM',
        `${prefix}; the Secret's ${field} gives key ${given}, not that key (wrong passphrase)`,
      );
    }
  } else if (record.kek.provider === 'kms' && source.provider === 'kms') {
    const keyId = use === 'previous' ? source.previousKmsKeyId : source.kmsKeyId;
    const field = use === 'previous' ? 'KMS_PREVIOUS_KEY_ID' : 'KMS_KEY_ID';
    if (!keyId) throw new CryptError('EPERM', `${prefix}; the Secret has no ${field}`);
    try {
      kek = await decryptKmsKek(needKms(ctx), keyId, record.kek.wrapped, ctx.volume);
    } catch (err) {
      throw new CryptError('EPERM', `${prefix}; ${field}: ${(err as Error).message}`);
    }
    if (kekId(kek) !== envelope.keyId) {
      kek.fill(0);
      throw new CryptError('EPERM', `${prefix}; KMS key ${keyId} decrypted another key (damaged record)`);
    }
  } else {
    throw new CryptError('EPERM', `${prefix}; provider mismatch`);
  }
  // The KEK opens the envelope (GCM authenticates it): a damaged record is refused here, not in the engine.
  unwrapDataKey(envelope, kek, `volume ${ctx.volume}`).fill(0);
  return kek;
}

/**
 * KEK rotation: the data key re-wrapped by a new KEK, opened with the Secret's previous key when
 * it names one (CRYPTO_PREVIOUS_KEY_VALUE / KMS_PREVIOUS_KEY_ID) else its current one. Passphrase:
 * a new salt under the current passphrase. KMS: ReEncrypt from the old KMS key to the current
 * one (the KEK stays inside KMS; with the same key id KMS re-wraps under the key's newest
 * material). Returns the new record and its KEK (zero it after use).
 */
/**
 * The KEK a rotation starts from: the Secret's previous value when it has one, else the current.
 * A previous value left in the Secret after an earlier rotation (kubectl apply does not prune a
 * key dropped from stringData) no longer opens the volume: then the current one is tried, and
 * only when neither does is the previous value's refusal reported.
 */
async function openForRotation(
  record: VolumeKeyRecord,
  source: KekSource,
  ctx: KeyContext,
): Promise<{ kek: Buffer; use: 'current' | 'previous' }> {
  const hasPrevious =
    source.provider === 'secret'
      ? source.previousPassphrase !== undefined
      : source.previousKmsKeyId !== undefined;
  if (!hasPrevious) return { kek: await openVolumeKek(record, source, ctx, 'current'), use: 'current' };
  try {
    return { kek: await openVolumeKek(record, source, ctx, 'previous'), use: 'previous' };
  } catch (previousRefused) {
    if (!(previousRefused instanceof CryptError)) throw previousRefused;
    try {
      return { kek: await openVolumeKek(record, source, ctx, 'current'), use: 'current' };
    } catch {
      throw previousRefused;
    }
  }
}

export async function rotateVolumeKek(
  record: VolumeKeyRecord,
  source: KekSource,
  ctx: KeyContext,
): Promise<{ record: VolumeKeyRecord; kek: Buffer }> {
  const { kek: oldKek, use } = await openForRotation(record, source, ctx);
  try {
    if (source.provider === 'kms' && record.kek.provider === 'kms') {
      const from = use === 'previous' ? source.previousKmsKeyId! : source.kmsKeyId;
      const wrapped = await reencryptKmsKek(
        needKms(ctx),
        from,
        source.kmsKeyId,
        record.kek.wrapped,
        ctx.volume,
      );
      return { record: { envelope: record.envelope, kek: { provider: 'kms', wrapped } }, kek: oldKek };
    }
    const { kek, recordKek } = await newKek(source, ctx);
    const envelope = rewrapDataKey(record.envelope, oldKek, kek, `volume ${ctx.volume}`);
    oldKek.fill(0);
    return { record: { envelope, kek: recordKek }, kek };
  } catch (err) {
    oldKek.fill(0);
    throw err;
  }
}

/** Reads a record back from its JSON (from a Secret); a damaged one is refused by name. */
export function parseKeyRecord(text: string, what: string): VolumeKeyRecord {
  let record: VolumeKeyRecord;
  try {
    record = JSON.parse(text) as VolumeKeyRecord;
  } catch {
    throw new CryptError('INVALID_ARGUMENT', `${what}: the key record is not JSON`);
  }
  try {
    checkEnvelope(record.envelope);
  } catch (err) {
    throw new CryptError('INVALID_ARGUMENT', `${what}: ${(err as Error).message}`);
  }
  const k = record.kek as RecordKek | undefined;
  if (k?.provider === 'secret') checkPassphraseKdf(k.kdf, what);
  else if (k?.provider === 'kms') {
    if (
      typeof k.wrapped?.kmsKeyId !== 'string' ||
      typeof k.wrapped.blob !== 'string' ||
      k.wrapped.blob === ''
    )
      throw new CryptError('INVALID_ARGUMENT', `${what}: the KMS-wrapped key is damaged`);
  } else throw new CryptError('INVALID_ARGUMENT', `${what}: the key record names no KEK provider`);
  return { envelope: record.envelope, kek: k };
}

async function newKek(source: KekSource, ctx: KeyContext): Promise<{ kek: Buffer; recordKek: RecordKek }> {
  if (source.provider === 'secret') {
    const kdf = newPassphraseKdf(source.pbkdf, source.hash);
    return { kek: await derivePassphraseKek(source.passphrase, kdf), recordKek: { provider: 'secret', kdf } };
  }
  try {
    const { kek, wrapped } = await generateKmsKek(needKms(ctx), source.kmsKeyId, ctx.volume);
    return { kek, recordKek: { provider: 'kms', wrapped } };
  } catch (err) {
    throw new CryptError('EPERM', `${ctx.sourceName}: KMS_KEY_ID: ${(err as Error).message}`);
  }
}

function needKms(ctx: KeyContext): KMSClient {
  if (!ctx.kms) throw new CryptError('INVALID_ARGUMENT', `${ctx.sourceName}: no KMS client was given`);
  return ctx.kms;
}
