/**
 * A key-encryption key stretched from a passphrase (a crypto Secret's CRYPTO_KEY_VALUE) and a
 * random per-volume salt. CRYPTO_PBKDF argon2i/argon2id choose a memory-hard function: Node 20
 * has no Argon2, so scrypt (N 2^15, r 8, p 1: 32 MiB) stands in for it; pbkdf2 is
 * PBKDF2-HMAC with CRYPTO_KEY_HASH. The parameters are kept with the volume's key record, so a
 * later change of the Secret's CRYPTO_PBKDF does not change how an existing volume opens.
 */
import { pbkdf2, randomBytes, scrypt } from 'node:crypto';
import { CryptError } from './crypt-error.js';
import type { PassphraseHash, PassphraseKdfName } from './crypto-secret.js';
import { KEK_BYTES } from './kek-material.js';

export type PassphraseKdf =
  | { name: 'scrypt'; salt: string; n: number; r: number; p: number }
  | { name: 'pbkdf2'; salt: string; hash: PassphraseHash; iterations: number };

const SALT_BYTES = 16;
const SCRYPT = { n: 1 << 15, r: 8, p: 1 };
/** OWASP's 2023 figures for PBKDF2-HMAC. */
const PBKDF2_ITERATIONS: Record<PassphraseHash, number> = { sha256: 600_000, sha512: 210_000 };

/** Fresh parameters (a new salt) for a Secret's CRYPTO_PBKDF and CRYPTO_KEY_HASH. */
export function newPassphraseKdf(pbkdf: PassphraseKdfName, hash: PassphraseHash): PassphraseKdf {
  const salt = randomBytes(SALT_BYTES).toString('base64');
  return pbkdf === 'pbkdf2'
    ? { name: 'pbkdf2', salt, hash, iterations: PBKDF2_ITERATIONS[hash] }
    : { name: 'scrypt', salt, ...SCRYPT };
}

/** Validates parameters read back from a key record. */
export function checkPassphraseKdf(kdf: PassphraseKdf, what: string): void {
  const salt = typeof kdf?.salt === 'string' ? Buffer.from(kdf.salt, 'base64') : Buffer.alloc(0);
  const ok =
    salt.length >= 8 &&
    ((kdf.name === 'scrypt' &&
      Number.isInteger(kdf.n) &&
      kdf.n >= 1 << 10 &&
      kdf.n <= 1 << 20 &&
      (kdf.n & (kdf.n - 1)) === 0 &&
      Number.isInteger(kdf.r) &&
      kdf.r >= 1 &&
      kdf.r <= 32 &&
      Number.isInteger(kdf.p) &&
      kdf.p >= 1 &&
      kdf.p <= 16) ||
      (kdf.name === 'pbkdf2' &&
        ['sha256', 'sha512'].includes(kdf.hash) &&
        Number.isInteger(kdf.iterations) &&
        kdf.iterations >= 10_000 &&
        kdf.iterations <= 10_000_000));
  if (!ok) throw new CryptError('INVALID_ARGUMENT', `${what}: the passphrase KDF parameters are damaged`);
}

/** The 32-byte KEK for `passphrase` under `kdf` (off the event loop: libuv's thread pool). */
export function derivePassphraseKek(passphrase: string, kdf: PassphraseKdf): Promise<Buffer> {
  const salt = Buffer.from(kdf.salt, 'base64');
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, key: Buffer) =>
      err ? reject(new CryptError('INVALID_ARGUMENT', `passphrase KDF: ${err.message}`)) : resolve(key);
    if (kdf.name === 'scrypt') {
      scrypt(
        passphrase,
        salt,
        KEK_BYTES,
        { N: kdf.n, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.n * kdf.r + (1 << 20) },
        done,
      );
    } else {
      pbkdf2(passphrase, salt, kdf.iterations, KEK_BYTES, kdf.hash, done);
    }
  });
}
