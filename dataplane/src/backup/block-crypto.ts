import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  scryptSync,
} from 'node:crypto';
import { BackupError } from './errors.js';

/**
 * Backup encryption (none of Longhorn's backupstores has it): AES-256-GCM per stored block,
 * after compression, as nonce (12 bytes) | ciphertext | tag (16 bytes), with the block's name as
 * additional data so a block moved under another name fails to decrypt. An encrypted volume's
 * blocks are named by HMAC-SHA-512 of the plaintext under the key instead of its SHA-512: a
 * plain hash would let anyone holding a guess of a block's content confirm it is in the store;
 * the keyed name leaks only that two blocks of the same key are equal (what dedupe needs).
 *
 * The key comes from a passphrase (the Secret's CRYPTO_KEY_VALUE, as Longhorn's volume
 * encryption names it) through scrypt; its id (recorded in volume.cfg) is a hash of the key, so
 * a wrong key is refused before any block is read.
 */
export const ENCRYPTION_METHOD = 'aes-256-gcm';

export interface BlockKey {
  key: Buffer;
  /** 16 hex digits identifying the key (not revealing it). */
  id: string;
}

export function deriveBlockKey(passphrase: string): BlockKey {
  if (typeof passphrase !== 'string' || passphrase.length < 8) {
    throw new BackupError('INVALID_ARGUMENT', 'the encryption passphrase must have at least 8 characters');
  }
  const key = scryptSync(passphrase, 'longhorn-ts backupstore block key', 32);
  return { key, id: createHash('sha256').update('key-id:').update(key).digest('hex').slice(0, 16) };
}

export function keyedChecksum(key: BlockKey, data: Buffer): string {
  return createHmac('sha512', key.key).update(data).digest('hex').slice(0, 64);
}

export function encryptBlock(key: BlockKey, name: string, data: Buffer): Buffer {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key.key, nonce);
  cipher.setAAD(Buffer.from(name));
  const body = Buffer.concat([cipher.update(data), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/** The compressed block, or undefined when it does not authenticate (wrong key or damaged). */
export function decryptBlock(key: BlockKey, name: string, stored: Buffer): Buffer | undefined {
  if (stored.length < 28) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.key, stored.subarray(0, 12));
    decipher.setAAD(Buffer.from(name));
    decipher.setAuthTag(stored.subarray(stored.length - 16));
    return Buffer.concat([decipher.update(stored.subarray(12, stored.length - 16)), decipher.final()]);
  } catch {
    return undefined;
  }
}

/**
 * Checks that the key given fits the backup volume: none for a plain volume, the recorded one
 * for an encrypted volume. Throws before anything is read or written.
 */
export function checkVolumeKey(
  volume: string,
  recorded: { method: string; keyId: string },
  key: BlockKey | undefined,
): void {
  if (!recorded.keyId && key) {
    throw new BackupError(
      'INVALID_ARGUMENT',
      `backup volume ${volume} is not encrypted: its backups share blocks, so they cannot be encrypted now (back it up under a new volume name)`,
      { volume },
    );
  }
  if (recorded.keyId && !key) {
    throw new BackupError(
      'INVALID_ARGUMENT',
      `backup volume ${volume} is encrypted (${recorded.method}): give its key (CRYPTO_KEY_VALUE)`,
      {
        volume,
      },
    );
  }
  if (recorded.keyId && key && recorded.keyId !== key.id) {
    throw new BackupError(
      'ACCESS_DENIED',
      `wrong encryption key for backup volume ${volume}: it was encrypted with key ${recorded.keyId}, this key is ${key.id}`,
      { volume },
    );
  }
}
