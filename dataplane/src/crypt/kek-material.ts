/**
 * Key-encryption keys (KEKs) as a user hands them over: 32 bytes, in a file either raw (exactly
 * 32 bytes), as 64 hex digits or as 44 base64 characters (a trailing newline allowed in text).
 * Anything else is refused with a message saying what was expected; key bytes never appear in
 * a message.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { CryptError } from './crypt-error.js';

export const KEK_BYTES = 32;

export function parseKek(material: Buffer, source: string): Buffer {
  let kek: Buffer | null = null;
  if (material.length === KEK_BYTES) kek = Buffer.from(material);
  else {
    const text = material.toString('latin1').trim();
    if (/^[0-9a-fA-F]{64}$/.test(text)) kek = Buffer.from(text, 'hex');
    else if (/^[A-Za-z0-9+/]{43}=$/.test(text)) kek = Buffer.from(text, 'base64');
  }
  if (!kek || kek.length !== KEK_BYTES) {
    throw new CryptError(
      'INVALID_ARGUMENT',
      `${source}: a key-encryption key is ${KEK_BYTES} bytes, raw or as 64 hex digits or 44 base64 characters; got ${material.length} bytes that are none of these`,
    );
  }
  if (kek.every((b) => b === 0)) throw new CryptError('INVALID_ARGUMENT', `${source}: the key is all zeros`);
  return kek;
}

/** Reads and parses a key file; a missing or unreadable file is refused by name. */
export async function readKekFile(path: string): Promise<Buffer> {
  let material: Buffer;
  try {
    material = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CryptError(
      'INVALID_ARGUMENT',
      `key file ${path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
    );
  }
  return parseKek(material, `key file ${path}`);
}

/**
 * A KEK's id: a fingerprint that names the key in state and messages without revealing it
 * (SHA-256 over a fixed label and the key, first 16 hex digits).
 */
export function kekId(kek: Buffer): string {
  return `kek-${createHash('sha256').update('longhorn-ts key id\0').update(kek).digest('hex').slice(0, 16)}`;
}
