import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PARAM_KEY_RECORD } from '../../src/backup/config.js';
import { checkBackupKeys, keyRecordParameters, restoredEncryption } from '../../src/cli/backup-keys.js';
import { newCryptoSecretEncryption } from '../../src/cli/crypto-secret-file.js';
import { newVolumeEncryption } from '../../src/cli/volume-encryption.js';
import type { RotationStatus } from '../../src/crypt/data-key-rotation.js';

const work = mkdtempSync(join(tmpdir(), 'lh-backup-keys-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const status = (s: Partial<RotationStatus>): RotationStatus => ({
  state: 'done',
  from: 'dk-a',
  to: 'dk-b',
  bytesDone: 0,
  bytesTotal: 0,
  percent: 100,
  error: '',
  snapshotsUsingPrevious: [],
  ...s,
});

describe('the key record a local backup carries', () => {
  it('refuses a backup while a rotation runs or of a snapshot still under the previous key', () => {
    expect(() => checkBackupKeys('v', 's', status({ state: 'none', from: '', to: '' }))).not.toThrow();
    expect(() => checkBackupKeys('v', 's', status({ state: 'running' }))).toThrow(
      'volume v: its data is being re-encrypted from data key dk-a to dk-b; back it up once that is done',
    );
    expect(() => checkBackupKeys('v', 'old', status({ snapshotsUsingPrevious: ['old'] }))).toThrow(
      /snapshot old was taken before the volume was re-encrypted to data key dk-b/,
    );
    expect(() => checkBackupKeys('v', 'new', status({ snapshotsUsingPrevious: ['old'] }))).not.toThrow();
  });

  it('a key-file volume: restored with that file, refused without it or with another', async () => {
    const kek = join(work, 'kek.hex');
    writeFileSync(kek, randomBytes(32).toString('hex'));
    const other = join(work, 'other.hex');
    writeFileSync(other, randomBytes(32).toString('hex'));
    const enc = await newVolumeEncryption(kek);
    const params = keyRecordParameters(enc);
    expect(JSON.parse(params[PARAM_KEY_RECORD]!)).toEqual({
      envelope: { cipher: enc.cipher, keyId: enc.keyId, wrappedKey: enc.wrappedKey },
      kek: { provider: 'key-file' },
    });
    await expect(restoredEncryption('r', 'b1', params, { keyFile: kek })).resolves.toMatchObject({
      wrappedKey: enc.wrappedKey,
      keyFile: kek,
    });
    await expect(restoredEncryption('r', 'b1', params, {})).rejects.toThrow(
      /^backup b1 was taken of an encrypted volume \(its blocks are ciphertext\): give --key-file FILE/,
    );
    await expect(restoredEncryption('r', 'b1', params, { keyFile: other })).rejects.toThrow(/backup b1/);
    await expect(restoredEncryption('r', 'b1', null, { keyFile: kek })).rejects.toThrow(
      'backup b1 was taken of a volume without encryption: restore it without --key-file or --crypto-secret',
    );
    await expect(restoredEncryption('r', 'b1', null, {})).resolves.toBeUndefined();
    await expect(
      restoredEncryption('r', 'b1', { [PARAM_KEY_RECORD]: '{' }, { keyFile: kek }),
    ).rejects.toThrow(/^backup b1: its key record is damaged/);
  });

  it('a crypto-secret volume: restored with a file of the same passphrase, refused with another', async () => {
    const secret = join(work, 'crypto.env');
    writeFileSync(secret, 'CRYPTO_KEY_VALUE=the first passphrase\nCRYPTO_KEY_PROVIDER=secret\n');
    const wrong = join(work, 'wrong.env');
    writeFileSync(wrong, 'CRYPTO_KEY_VALUE=not the passphrase\nCRYPTO_KEY_PROVIDER=secret\n');
    const enc = await newCryptoSecretEncryption('v', secret);
    const params = keyRecordParameters(enc);
    expect(params[PARAM_KEY_RECORD]).not.toContain('the first passphrase');
    await expect(restoredEncryption('r', 'b1', params, { keyFile: secret })).rejects.toThrow(
      /give --crypto-secret FILE/,
    );
    const restored = await restoredEncryption('r', 'b1', params, { cryptoSecret: secret });
    expect(restored).toMatchObject({
      wrappedKey: enc.wrappedKey,
      cryptoSecret: { kek: enc.cryptoSecret!.kek },
    });
    await expect(restoredEncryption('r', 'b1', params, { cryptoSecret: wrong })).rejects.toThrow(
      /^crypto secret file .*wrong\.env: volume r is encrypted with key kek-[0-9a-f]+; .* \(wrong passphrase\)$/,
    );
  });
});
