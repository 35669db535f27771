/**
 * Envelope encryption of a volume's data key: a random 64-byte aes-256-xts key, stored only
 * wrapped (AES-256-GCM) by a key-encryption key (KEK) and labelled with that KEK's id. Rotating
 * the KEK re-wraps the same data key: no volume data is touched.
 *
 * Wrapped form: base64 of iv (12) | encrypted data key (64) | GCM tag (16); the cipher name and
 * key id are authenticated with it, so neither can be swapped under the wrapped key.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CryptError } from './crypt-error.js';
import { kekId } from './kek-material.js';
import { XTS_KEY_BYTES } from './xts-cipher.js';

export const VOLUME_CIPHERS = ['aes-256-xts'] as const;
export type VolumeCipher = (typeof VOLUME_CIPHERS)[number];

export interface KeyEnvelope {
  cipher: VolumeCipher;
  /** Id of the KEK that wraps the data key (kekId). */
  keyId: string;
  /** base64(iv | ciphertext | tag). */
  wrappedKey: string;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A fresh random data key (its two XTS halves differ, as XTS requires). */
export function newDataKey(): Buffer {
  for (;;) {
    const key = randomBytes(XTS_KEY_BYTES);
    if (!key.subarray(0, 32).equals(key.subarray(32))) return key;
  }
}

export function wrapDataKey(dataKey: Buffer, kek: Buffer, cipher: VolumeCipher = 'aes-256-xts'): KeyEnvelope {
  const keyId = kekId(kek);
  const iv = randomBytes(IV_BYTES);
  const gcm = createCipheriv('aes-256-gcm', kek, iv).setAAD(aad(cipher, keyId));
  const body = Buffer.concat([gcm.update(dataKey), gcm.final()]);
  return { cipher, keyId, wrappedKey: Buffer.concat([iv, body, gcm.getAuthTag()]).toString('base64') };
}

/**
 * The data key inside `envelope`. `kek` may be missing (refused, naming the key needed); a KEK
 * with another id, or one that does not authenticate the wrapped key, is refused by key id.
 */
export function unwrapDataKey(envelope: KeyEnvelope, kek: Buffer | null, what = 'the volume'): Buffer {
  checkEnvelope(envelope);
  if (!kek) {
    throw new CryptError(
      'EPERM',
      `${what} is encrypted with key ${envelope.keyId}; no key-encryption key was given`,
    );
  }
  const given = kekId(kek);
  if (given !== envelope.keyId) {
    throw new CryptError(
      'EPERM',
      `${what} is encrypted with key ${envelope.keyId}; the key given is ${given}, not that key`,
    );
  }
  const raw = Buffer.from(envelope.wrappedKey, 'base64');
  const iv = raw.subarray(0, IV_BYTES);
  const tag = raw.subarray(raw.length - TAG_BYTES);
  const body = raw.subarray(IV_BYTES, raw.length - TAG_BYTES);
  try {
    const gcm = createDecipheriv('aes-256-gcm', kek, iv).setAAD(aad(envelope.cipher, envelope.keyId));
    gcm.setAuthTag(tag);
    return Buffer.concat([gcm.update(body), gcm.final()]);
  } catch {
    throw new CryptError(
      'EPERM',
      `${what}: key ${envelope.keyId} does not unwrap its data key (the wrapped key is damaged)`,
    );
  }
}

/** The same data key wrapped by `newKek` (KEK rotation); `oldKek` must unwrap it. */
export function rewrapDataKey(
  envelope: KeyEnvelope,
  oldKek: Buffer,
  newKek: Buffer,
  what?: string,
): KeyEnvelope {
  const dataKey = unwrapDataKey(envelope, oldKek, what);
  try {
    return wrapDataKey(dataKey, newKek, envelope.cipher);
  } finally {
    dataKey.fill(0);
  }
}

/** Validates an envelope read from state (volume.json, a CR, a command line). */
export function checkEnvelope(envelope: KeyEnvelope): void {
  if (!(VOLUME_CIPHERS as readonly string[]).includes(envelope.cipher)) {
    throw new CryptError(
      'INVALID_ARGUMENT',
      `unknown cipher ${JSON.stringify(envelope.cipher)} (supported: ${VOLUME_CIPHERS.join(', ')})`,
    );
  }
  if (!/^kek-[0-9a-f]{16}$/.test(envelope.keyId ?? '')) {
    throw new CryptError('INVALID_ARGUMENT', `key id ${JSON.stringify(envelope.keyId)} is not a key id`);
  }
  const expected = IV_BYTES + XTS_KEY_BYTES + TAG_BYTES;
  const raw = /^[A-Za-z0-9+/]+={0,2}$/.test(envelope.wrappedKey ?? '')
    ? Buffer.from(envelope.wrappedKey, 'base64')
    : null;
  if (!raw || raw.length !== expected) {
    throw new CryptError(
      'INVALID_ARGUMENT',
      `wrapped key for ${envelope.keyId} is not ${expected} bytes of base64 (iv, key, tag)`,
    );
  }
}

function aad(cipher: string, keyId: string): Buffer {
  return Buffer.from(`longhorn-ts data key\0${cipher}\0${keyId}`);
}
