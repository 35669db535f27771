import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KekSource, parseCryptoSecret } from '../../src/crypt/crypto-secret.js';
import { kekId } from '../../src/crypt/kek-material.js';
import { kmsClient } from '../../src/crypt/kms-kek.js';
import { createVolumeKeys, openVolumeKek, rotateVolumeKek } from '../../src/crypt/volume-key-record.js';
import { LocalKms } from '../crypt/local-kms-server.js';
import { LocalVolume, longhornLocal, sh } from './cli.js';

const MiB = 1 << 20;
const SRC = 'crypto Secret longhorn-system/kms-crypto';

const clientFor = (s: KekSource) => {
  if (s.provider !== 'kms') throw new Error('a KMS source was expected');
  return kmsClient(s);
};

const envFile = (path: string, fields: Record<string, string>) =>
  writeFileSync(
    path,
    `${Object.entries(fields)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`,
  );

describe('key-encryption keys from a real AWS KMS API (local-kms)', () => {
  const kms = new LocalKms();
  let keyA = '';
  let keyB = '';

  beforeAll(async () => {
    await kms.start();
    keyA = await kms.createKey('longhorn-ts volumes A');
    keyB = await kms.createKey('longhorn-ts volumes B');
  }, 60_000);
  afterAll(() => kms.stop());

  const source = (fields: Record<string, string>) => parseCryptoSecret(fields, SRC);

  it('GenerateDataKey makes the KEK, Decrypt gets it back; another key id or volume is refused by KMS, by name', async () => {
    const a = source(kms.secretFields(keyA));
    const ctx = { volume: 'vol-kms', sourceName: SRC, kms: clientFor(a) };
    try {
      const { record, kek } = await createVolumeKeys(a, ctx);
      expect(record.kek).toMatchObject({
        provider: 'kms',
        wrapped: { kmsKeyId: expect.stringContaining(keyA) },
      });
      expect(record.envelope.keyId).toBe(kekId(kek));
      expect(JSON.stringify(record)).not.toContain(kek.toString('base64'));
      expect((await openVolumeKek(record, a, ctx)).equals(kek)).toBe(true);

      const b = source(kms.secretFields(keyB));
      await expect(openVolumeKek(record, b, ctx)).rejects.toThrow(
        new RegExp(
          `^${SRC}: volume vol-kms is encrypted with key ${record.envelope.keyId}; KMS_KEY_ID: KMS key ${keyB} \\(volume vol-kms's key-encryption key was wrapped by .*${keyA}\\): refused by KMS \\(InvalidCiphertextException`,
        ),
      );
      // The volume's name is the encryption context: another volume's record does not open.
      await expect(openVolumeKek(record, a, { ...ctx, volume: 'vol-other' })).rejects.toThrow(
        /refused by KMS \(InvalidCiphertextException/,
      );
      const unknown = source(kms.secretFields('11111111-2222-3333-4444-555555555555'));
      await expect(createVolumeKeys(unknown, ctx)).rejects.toThrow(
        /KMS_KEY_ID: KMS key 11111111-2222-3333-4444-555555555555: GenerateDataKey: refused by KMS \(NotFoundException/,
      );
    } finally {
      ctx.kms.destroy();
    }
  });

  it('rotation to another KMS key is a ReEncrypt: the same KEK and envelope, only the new key opens it', async () => {
    const a = source(kms.secretFields(keyA));
    const ctx = { volume: 'vol-rot', sourceName: SRC, kms: clientFor(a) };
    try {
      const { record, kek } = await createVolumeKeys(a, ctx);
      const moved = source({ ...kms.secretFields(keyB), KMS_PREVIOUS_KEY_ID: keyA });
      const rotated = await rotateVolumeKek(record, moved, ctx);
      expect(rotated.record.envelope).toEqual(record.envelope);
      expect(rotated.record.kek).toMatchObject({
        provider: 'kms',
        wrapped: { kmsKeyId: expect.stringContaining(keyB) },
      });
      const b = source(kms.secretFields(keyB));
      expect((await openVolumeKek(rotated.record, b, ctx)).equals(kek)).toBe(true);
      await expect(openVolumeKek(rotated.record, a, ctx)).rejects.toThrow(/InvalidCiphertextException/);
    } finally {
      ctx.kms.destroy();
    }
  });

  describe('longhorn-local volume up --encrypt --crypto-secret (KMS), real NBD clients', () => {
    const vol = new LocalVolume();
    const secretA = join(vol.dir, 'kms-a.env');
    const secretB = join(vol.dir, 'kms-b.env');
    const moved = join(vol.dir, 'kms-moved.env');
    const data = randomBytes(4 * MiB);

    beforeAll(async () => {
      envFile(secretA, kms.secretFields(keyA));
      envFile(secretB, kms.secretFields(keyB));
      envFile(moved, { ...kms.secretFields(keyB), KMS_PREVIOUS_KEY_ID: keyA });
      const out = await longhornLocal(
        'volume',
        'up',
        '--dir',
        vol.dir,
        '--replicas',
        '2',
        '--size',
        '32MiB',
        '--encrypt',
        '--crypto-secret',
        secretA,
      );
      vol.uri = out.trim().split('\n').at(-1)!;
    }, 120_000);
    afterAll(() => vol.down(), 120_000);

    it('data written reads back after an engine restart; the state file holds no key; a wrong KMS key id keeps the engine down', async () => {
      const src = join(vol.dir, 'data.bin');
      writeFileSync(src, data);
      await sh('nbdcopy', [src, vol.uri]);
      const state = readFileSync(join(vol.dir, 'volume.json'), 'utf8');
      expect(JSON.parse(state).encryption).toMatchObject({
        cipher: 'aes-256-xts',
        cryptoSecret: { kek: { provider: 'kms' } },
      });
      expect(readFileSync(join(vol.dir, 'volume.json'), 'utf8')).not.toContain('secretAccessKey');
      const info = JSON.parse(await vol.cli('info', '-o', 'json')) as {
        encrypted: boolean;
        keySource: string;
      };
      expect(info).toMatchObject({
        encrypted: true,
        keySource: expect.stringMatching(new RegExp(`^kms \\(key .*${keyA}\\)$`)),
      });

      vol.uri = (await vol.cli('restart')).trim();
      const back = join(vol.dir, 'back.bin');
      await sh('nbdcopy', [vol.uri, back]);
      expect(readFileSync(back).subarray(0, data.length).equals(data)).toBe(true);

      await expect(vol.cli('restart', '--crypto-secret', secretB)).rejects.toThrow(
        new RegExp(`KMS_KEY_ID: KMS key ${keyB} .*refused by KMS \\(InvalidCiphertextException`),
      );
    }, 120_000);

    it('rotate-key moves the KEK to another KMS key (ReEncrypt); the engine then starts with the new key only', async () => {
      const before = JSON.parse(readFileSync(join(vol.dir, 'volume.json'), 'utf8')).encryption.keyId;
      expect(await vol.cli('rotate-key', '--crypto-secret', moved)).toContain(`key ${before}`);
      await expect(vol.cli('restart', '--crypto-secret', secretA)).rejects.toThrow(
        /InvalidCiphertextException/,
      );
      vol.uri = (await vol.cli('restart', '--crypto-secret', secretB)).trim();
      const back = join(vol.dir, 'back2.bin');
      await sh('nbdcopy', [vol.uri, back]);
      expect(readFileSync(back).subarray(0, data.length).equals(data)).toBe(true);
    }, 120_000);
  });
});
