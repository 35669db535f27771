import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CryptError } from '../../src/crypt/crypt-error.js';
import { decodeSecretData, parseCryptoSecret } from '../../src/crypt/crypto-secret.js';
import { removeKekFile, removeStaleKekFiles, writeKekFile } from '../../src/crypt/kek-handoff.js';
import { kekId } from '../../src/crypt/kek-material.js';
import { derivePassphraseKek, newPassphraseKdf } from '../../src/crypt/passphrase-kek.js';
import {
  createVolumeKeys,
  openVolumeKek,
  parseKeyRecord,
  rotateVolumeKek,
} from '../../src/crypt/volume-key-record.js';

const SRC = 'crypto Secret longhorn-system/longhorn-crypto';

/** Longhorn's example crypto Secret (longhorn/longhorn examples/encrypted). */
const LONGHORN_EXAMPLE = {
  CRYPTO_KEY_VALUE: 'Simple passphrase',
  CRYPTO_KEY_PROVIDER: 'secret',
  CRYPTO_KEY_CIPHER: 'aes-xts-plain64',
  CRYPTO_KEY_HASH: 'sha256',
  CRYPTO_KEY_SIZE: '256',
  CRYPTO_PBKDF: 'argon2i',
};

describe('crypto Secret fields', () => {
  it("reads Longhorn's example Secret and its defaults", () => {
    expect(parseCryptoSecret(LONGHORN_EXAMPLE, SRC)).toEqual({
      provider: 'secret',
      passphrase: 'Simple passphrase',
      pbkdf: 'argon2i',
      hash: 'sha256',
    });
    expect(parseCryptoSecret({ CRYPTO_KEY_VALUE: 'p' }, SRC)).toEqual({
      provider: 'secret',
      passphrase: 'p',
      pbkdf: 'argon2i',
      hash: 'sha256',
    });
    expect(
      parseCryptoSecret(
        {
          CRYPTO_KEY_VALUE: 'new',
          CRYPTO_PREVIOUS_KEY_VALUE: 'old',
          CRYPTO_PBKDF: 'pbkdf2',
          CRYPTO_KEY_HASH: 'sha512',
        },
        SRC,
      ),
    ).toEqual({
      provider: 'secret',
      passphrase: 'new',
      previousPassphrase: 'old',
      pbkdf: 'pbkdf2',
      hash: 'sha512',
    });
  });

  it('reads the KMS provider (our extension)', () => {
    expect(
      parseCryptoSecret(
        {
          CRYPTO_KEY_PROVIDER: 'kms',
          KMS_KEY_ID: 'alias/volumes',
          KMS_ENDPOINT: 'http://127.0.0.1:4599',
          KMS_REGION: 'eu-west-1',
          AWS_ACCESS_KEY_ID: 'a',
          AWS_SECRET_ACCESS_KEY: 'b',
          KMS_PREVIOUS_KEY_ID: 'alias/old',
        },
        SRC,
      ),
    ).toEqual({
      provider: 'kms',
      kmsKeyId: 'alias/volumes',
      endpoint: 'http://127.0.0.1:4599',
      region: 'eu-west-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      previousKmsKeyId: 'alias/old',
    });
    expect(parseCryptoSecret({ CRYPTO_KEY_PROVIDER: 'kms', KMS_KEY_ID: 'k' }, SRC)).toEqual({
      provider: 'kms',
      kmsKeyId: 'k',
      region: 'us-east-1',
    });
  });

  it.each([
    [{}, 'CRYPTO_KEY_VALUE (the passphrase) is missing or empty'],
    [{ CRYPTO_KEY_VALUE: '' }, 'CRYPTO_KEY_VALUE (the passphrase) is missing or empty'],
    [
      { ...LONGHORN_EXAMPLE, CRYPTO_KEY_PROVIDER: 'vault' },
      'CRYPTO_KEY_PROVIDER "vault" is not one of secret, kms',
    ],
    [
      { ...LONGHORN_EXAMPLE, CRYPTO_KEY_CIPHER: 'serpent-xts-plain64' },
      'CRYPTO_KEY_CIPHER "serpent-xts-plain64" is not supported (longhorn-ts encrypts with aes-xts-plain64)',
    ],
    [{ ...LONGHORN_EXAMPLE, CRYPTO_KEY_SIZE: '128' }, 'CRYPTO_KEY_SIZE "128" is not one of 256, 512'],
    [
      { ...LONGHORN_EXAMPLE, CRYPTO_PBKDF: 'bcrypt' },
      'CRYPTO_PBKDF "bcrypt" is not one of argon2i, argon2id, pbkdf2',
    ],
    [{ ...LONGHORN_EXAMPLE, CRYPTO_KEY_HASH: 'md5' }, 'CRYPTO_KEY_HASH "md5" is not one of sha256, sha512'],
    [{ ...LONGHORN_EXAMPLE, KMS_KEY_ID: 'k' }, 'KMS_KEY_ID is for CRYPTO_KEY_PROVIDER=kms'],
    [{ CRYPTO_KEY_PROVIDER: 'kms' }, 'KMS_KEY_ID (the KMS key id, ARN or alias) is missing or empty'],
    [
      { CRYPTO_KEY_PROVIDER: 'kms', KMS_KEY_ID: 'k', CRYPTO_KEY_VALUE: 'p' },
      'CRYPTO_KEY_VALUE is for CRYPTO_KEY_PROVIDER=secret',
    ],
    [
      { CRYPTO_KEY_PROVIDER: 'kms', KMS_KEY_ID: 'k', KMS_ENDPOINT: 'localhost:4599' },
      'KMS_ENDPOINT "localhost:4599" is not an http(s) URL',
    ],
    [
      { CRYPTO_KEY_PROVIDER: 'kms', KMS_KEY_ID: 'k', AWS_ACCESS_KEY_ID: 'a' },
      'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together',
    ],
  ])('refuses %j', (data, message) => {
    let err: unknown;
    try {
      parseCryptoSecret(data as Record<string, string>, SRC);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CryptError);
    expect((err as CryptError).code).toBe('INVALID_ARGUMENT');
    expect((err as Error).message).toContain(`${SRC}: ${message}`);
    expect((err as Error).message).not.toContain('Simple passphrase');
  });

  it('decodes a Secret object', () => {
    expect(decodeSecretData({ CRYPTO_KEY_VALUE: Buffer.from('pass word').toString('base64') })).toEqual({
      CRYPTO_KEY_VALUE: 'pass word',
    });
  });
});

describe('passphrase key-encryption keys', () => {
  it('derive one 32-byte key per passphrase and salt (scrypt for argon2*, PBKDF2 with the hash)', async () => {
    for (const kdf of [newPassphraseKdf('argon2i', 'sha256'), newPassphraseKdf('pbkdf2', 'sha512')]) {
      const a = await derivePassphraseKek('passphrase', kdf);
      expect(a.length).toBe(32);
      expect((await derivePassphraseKek('passphrase', kdf)).equals(a)).toBe(true);
      expect((await derivePassphraseKek('passphrase2', kdf)).equals(a)).toBe(false);
      expect(
        (await derivePassphraseKek('passphrase', { ...kdf, salt: 'AAAAAAAAAAAAAAAAAAAAAA==' })).equals(a),
      ).toBe(false);
    }
    expect(newPassphraseKdf('argon2id', 'sha256').name).toBe('scrypt');
    expect(newPassphraseKdf('pbkdf2', 'sha256')).toMatchObject({
      name: 'pbkdf2',
      hash: 'sha256',
      iterations: 600_000,
    });
  });
});

describe('volume key records (passphrase provider)', () => {
  const ctx = { volume: 'vol-a', sourceName: SRC };
  const source = parseCryptoSecret(LONGHORN_EXAMPLE, SRC);

  it('create, store, open; a wrong or missing passphrase is refused naming the Secret and the key', async () => {
    const { record, kek } = await createVolumeKeys(source, ctx);
    const text = JSON.stringify(record);
    expect(text).not.toContain('Simple passphrase');
    expect(text).not.toContain(kek.toString('base64'));
    const back = parseKeyRecord(text, 'key record of vol-a');
    expect(back).toEqual(record);
    expect(record.envelope.keyId).toBe(kekId(kek));
    expect((await openVolumeKek(back, source, ctx)).equals(kek)).toBe(true);

    const wrong = parseCryptoSecret({ ...LONGHORN_EXAMPLE, CRYPTO_KEY_VALUE: 'another' }, SRC);
    await expect(openVolumeKek(back, wrong, ctx)).rejects.toThrow(
      new RegExp(
        `^${SRC}: volume vol-a is encrypted with key ${record.envelope.keyId}; the Secret's CRYPTO_KEY_VALUE gives key kek-[0-9a-f]{16}, not that key \\(wrong passphrase\\)$`,
      ),
    );
    const kms = parseCryptoSecret({ CRYPTO_KEY_PROVIDER: 'kms', KMS_KEY_ID: 'k' }, SRC);
    await expect(openVolumeKek(back, kms, ctx)).rejects.toThrow(
      `volume vol-a is encrypted with key ${record.envelope.keyId} from CRYPTO_KEY_PROVIDER=secret; the Secret says kms`,
    );
  });

  it('rotation re-wraps the same data key: with the previous passphrase, then the new one only opens it', async () => {
    const { record } = await createVolumeKeys(source, ctx);
    const changed = parseCryptoSecret(
      {
        ...LONGHORN_EXAMPLE,
        CRYPTO_KEY_VALUE: 'new passphrase',
        CRYPTO_PREVIOUS_KEY_VALUE: 'Simple passphrase',
      },
      SRC,
    );
    const rotated = await rotateVolumeKek(record, changed, ctx);
    expect(rotated.record.envelope.keyId).not.toBe(record.envelope.keyId);
    expect(rotated.record.envelope.keyId).toBe(kekId(rotated.kek));
    const newOnly = parseCryptoSecret({ ...LONGHORN_EXAMPLE, CRYPTO_KEY_VALUE: 'new passphrase' }, SRC);
    expect((await openVolumeKek(rotated.record, newOnly, ctx)).equals(rotated.kek)).toBe(true);
    await expect(openVolumeKek(rotated.record, source, ctx)).rejects.toThrow(/wrong passphrase/);
    // Without a previous value the same passphrase gets a new salt: a new KEK, the same data key.
    const again = await rotateVolumeKek(rotated.record, newOnly, ctx);
    expect(again.record.envelope.keyId).not.toBe(rotated.record.envelope.keyId);
    expect((await openVolumeKek(again.record, newOnly, ctx)).equals(again.kek)).toBe(true);
    // The old passphrase left behind as CRYPTO_PREVIOUS_KEY_VALUE (kubectl apply does not prune
    // stringData) does not block the next rotation: the current one opens the volume.
    const third = await rotateVolumeKek(again.record, changed, ctx);
    expect(third.record.envelope.keyId).not.toBe(again.record.envelope.keyId);
    expect((await openVolumeKek(third.record, newOnly, ctx)).equals(third.kek)).toBe(true);
    // Neither value opening it: the previous value's refusal is what is reported.
    const strangers = parseCryptoSecret(
      { ...LONGHORN_EXAMPLE, CRYPTO_KEY_VALUE: 'x', CRYPTO_PREVIOUS_KEY_VALUE: 'y' },
      SRC,
    );
    await expect(rotateVolumeKek(third.record, strangers, ctx)).rejects.toThrow(
      /CRYPTO_PREVIOUS_KEY_VALUE gives key kek-[0-9a-f]{16}, not that key \(wrong passphrase\)/,
    );
  });

  it('refuses damaged records by name', () => {
    expect(() => parseKeyRecord('{', 'key record of v')).toThrow(
      'key record of v: the key record is not JSON',
    );
    expect(() => parseKeyRecord(JSON.stringify({ envelope: {} }), 'key record of v')).toThrow(
      /key record of v: unknown cipher/,
    );
  });
});

describe('KEK hand-over files', () => {
  it('are 0600 in a 0700 directory, hold the 32 bytes, and are gone after removal', async () => {
    const root = mkdtempSync(join(tmpdir(), 'lh-handoff-'));
    try {
      const kek = randomBytes(32);
      const dir = join(root, 'run', 'keys');
      const path = await writeKekFile(dir, 'pvc-1-e-0', kek);
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(readFileSync(path).equals(kek)).toBe(true);
      // Two starts never share a file.
      const other = await writeKekFile(dir, 'pvc-1-e-0', kek);
      expect(other).not.toBe(path);
      await removeKekFile(path);
      await removeKekFile(path);
      expect(existsSync(path)).toBe(false);
      // Left behind by a process that died: cleared at the next start.
      expect(await removeStaleKekFiles(dir)).toBe(1);
      expect(existsSync(other)).toBe(false);
      expect(await removeStaleKekFiles(join(root, 'none'))).toBe(0);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
