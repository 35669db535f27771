import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { nativeXts } from '../../src/crypt/native-xts.js';
import { CRYPT_BLOCK, XtsCipher } from '../../src/crypt/xts-cipher.js';

/** OpenSSL's aes-256-xts, one cipher object per block, block number as a little-endian IV. */
function openssl(key: Buffer, data: Buffer, firstBlock: number): Buffer {
  const out = Buffer.alloc(data.length);
  for (let o = 0; o < data.length; o += CRYPT_BLOCK) {
    const iv = Buffer.alloc(16);
    iv.writeBigUInt64LE(BigInt(firstBlock + o / CRYPT_BLOCK));
    const c = createCipheriv('aes-256-xts', key, iv);
    Buffer.concat([c.update(data.subarray(o, o + CRYPT_BLOCK)), c.final()]).copy(out, o);
  }
  return out;
}

describe.each(['native', 'js'] as const)(
  'XtsCipher, %s (AES-256-XTS per 4 KiB block, block number as tweak)',
  (impl) => {
    const key = randomBytes(64);
    const cipher = new XtsCipher(key, impl);

    it('runs the implementation asked for', () => {
      expect(cipher.implementation).toBe(impl);
    });

    it.each([
      ['one block at 0', 1, 0],
      ['three blocks at 7', 3, 7],
      ['a block past 2^32 blocks (16 TiB)', 2, 2 ** 32 + 5],
      ['256 blocks (1 MiB)', 256, 1000],
    ])('gives the bytes OpenSSL aes-256-xts gives: %s', (_, blocks, first) => {
      const plain = randomBytes(blocks * CRYPT_BLOCK);
      const expected = openssl(key, plain, first);
      const encrypted = cipher.encrypt(Buffer.from(plain), first);
      expect(encrypted.equals(expected)).toBe(true);
      expect(cipher.decrypt(Buffer.from(encrypted), first).equals(plain)).toBe(true);
    });

    it('gives the same bytes on the thread pool (large requests) as at once', async () => {
      const plain = randomBytes(64 * CRYPT_BLOCK);
      const expected = openssl(key, plain, 3);
      const encrypted = await cipher.encryptAsync(Buffer.from(plain), 3);
      expect(encrypted.equals(expected)).toBe(true);
      expect((await cipher.decryptAsync(encrypted, 3)).equals(plain)).toBe(true);
      await expect(cipher.encryptAsync(Buffer.alloc(64 * CRYPT_BLOCK + 512), 0)).rejects.toThrow(
        /is not whole/,
      );
    });

    it('gives equal plaintext blocks different ciphertext at different block numbers', () => {
      const plain = Buffer.alloc(2 * CRYPT_BLOCK, 0x41);
      const out = cipher.encrypt(Buffer.from(plain), 0);
      expect(out.subarray(0, CRYPT_BLOCK).equals(out.subarray(CRYPT_BLOCK))).toBe(false);
    });

    it('works on a slice at an odd offset', () => {
      const backing = Buffer.alloc(CRYPT_BLOCK + 3);
      const slice = backing.subarray(3);
      randomBytes(CRYPT_BLOCK).copy(slice);
      const plain = Buffer.from(slice);
      expect(cipher.decrypt(cipher.encrypt(slice, 9), 9).equals(plain)).toBe(true);
    });

    it('refuses a key of the wrong size, equal key halves, and partial blocks', () => {
      expect(() => new XtsCipher(randomBytes(32), impl)).toThrow(/aes-256-xts needs a 64-byte key, got 32/);
      const half = randomBytes(32);
      expect(() => new XtsCipher(Buffer.concat([half, half]), impl)).toThrow(/key halves must differ/);
      expect(() => cipher.encrypt(Buffer.alloc(512), 0)).toThrow(/512 bytes is not whole 4096-byte blocks/);
      expect(() => cipher.encrypt(Buffer.alloc(0), 0)).toThrow(/0 bytes is not whole/);
    });
  },
);

describe('the xts addon: its vaes engine and libcrypto', () => {
  it('give the same bytes for any key, block count and block number, both ways', () => {
    const addon = nativeXts();
    expect(addon).not.toBeNull();
    for (let i = 0; i < 64; i++) {
      const key = randomBytes(64);
      const best = addon!.create(key);
      const libcrypto = addon!.create(key, 'libcrypto');
      expect(addon!.engine!(libcrypto)).toBe('libcrypto');
      const blocks = 1 + (i % 9);
      const first = [i, 2 ** 32 - 1 - (i % 2), Math.floor(Math.random() * 2 ** 52)][i % 3]!;
      const plain = randomBytes(blocks * CRYPT_BLOCK);
      const a = Buffer.from(plain);
      const b = Buffer.from(plain);
      addon!.run(best, true, a, first);
      addon!.run(libcrypto, true, b, first);
      expect(a.equals(b)).toBe(true);
      if (i % 8 === 0) expect(a.equals(openssl(key, plain, first))).toBe(true);
      addon!.run(best, false, a, first);
      expect(a.equals(plain)).toBe(true);
    }
  });

  it('the libcrypto engine runs on the thread pool too', async () => {
    const addon = nativeXts()!;
    const key = randomBytes(64);
    const handle = addon.create(key, 'libcrypto');
    const plain = randomBytes(32 * CRYPT_BLOCK);
    const data = Buffer.from(plain);
    await new Promise<void>((resolve, reject) =>
      addon.runAsync(handle, true, data, 11, (err) => (err ? reject(err) : resolve())),
    );
    expect(data.equals(openssl(key, plain, 11))).toBe(true);
  });
});
