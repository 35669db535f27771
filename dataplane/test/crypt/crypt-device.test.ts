import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { ioBuffers } from '../../src/block/buffer-pool.js';
import { CryptBlockDevice } from '../../src/crypt/crypt-device.js';
import { newDataKey } from '../../src/crypt/key-envelope.js';
import { CRYPT_BLOCK, XtsCipher, type XtsImplementation } from '../../src/crypt/xts-cipher.js';
import { MemoryDevice } from './memory-device.js';

const SIZE = 64 * CRYPT_BLOCK;

let impl: XtsImplementation = 'native';

function setup() {
  const inner = new MemoryDevice(SIZE);
  const key = newDataKey();
  const dev = new CryptBlockDevice(inner, key, 'vol', impl);
  /** What the volume should read as. */
  const model = Buffer.alloc(SIZE);
  return { inner, key, dev, model };
}

/** How many times `needle` occurs in `hay`. */
function occurrences(hay: Buffer, needle: Buffer): number {
  let n = 0;
  for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + 1)) n++;
  return n;
}

describe.each(['native', 'js'] as const)('CryptBlockDevice, %s cipher', (which) => {
  beforeEach(() => {
    impl = which;
  });

  it('round-trips aligned writes and stores only ciphertext below', async () => {
    const { inner, key, dev } = setup();
    const pattern = Buffer.from('PLAINTEXT-PATTERN-0123456789abcdef');
    const plain = Buffer.alloc(8 * CRYPT_BLOCK);
    for (let o = 0; o + pattern.length <= plain.length; o += pattern.length) pattern.copy(plain, o);
    const copy = Buffer.from(plain);
    await dev.write(4 * CRYPT_BLOCK, plain, false);
    expect(plain.equals(copy)).toBe(true); // a caller's (non-pooled) buffer is left as it was
    expect((await dev.read(4 * CRYPT_BLOCK, plain.length)).equals(plain)).toBe(true);
    expect(occurrences(inner.data, pattern)).toBe(0);
    expect(occurrences(inner.data, pattern.subarray(0, 8))).toBe(0);
    // Below is exactly XTS with the block number as the tweak.
    const expected = new XtsCipher(key, 'js').encrypt(Buffer.from(plain), 4);
    expect(inner.data.subarray(4 * CRYPT_BLOCK, 12 * CRYPT_BLOCK).equals(expected)).toBe(true);
  });

  it('reads never-written blocks as zeros and writes nothing for a read', async () => {
    const { inner, dev } = setup();
    expect((await dev.read(0, SIZE)).equals(Buffer.alloc(SIZE))).toBe(true);
    expect((await dev.read(100, 5000)).equals(Buffer.alloc(5000))).toBe(true);
    expect(inner.calls.filter((c) => c.startsWith('write'))).toEqual([]);
  });

  it('takes a pooled buffer over (the frontend hands one down) and still stores its bytes', async () => {
    const { dev } = setup();
    const buf = ioBuffers.acquire(2 * CRYPT_BLOCK);
    const plain = randomBytes(2 * CRYPT_BLOCK);
    plain.copy(buf);
    await dev.write(0, buf, false);
    expect((await dev.read(0, plain.length)).equals(plain)).toBe(true);
  });

  it.each([
    ['inside one block', 100, 200],
    ['across a block boundary', CRYPT_BLOCK - 10, 20],
    ['one byte at the end of a block', CRYPT_BLOCK - 1, 1],
    ['unaligned start, aligned end', 3000, 2 * CRYPT_BLOCK - 3000],
    ['aligned start, unaligned end', CRYPT_BLOCK, CRYPT_BLOCK + 7],
    ['spanning five blocks, both edges partial', 5 * CRYPT_BLOCK + 1, 4 * CRYPT_BLOCK + 5],
    ['the last bytes of the volume', SIZE - 33, 33],
  ])('read-modify-writes partial blocks (%s) and keeps the neighbours', async (_, offset, length) => {
    const { dev, model } = setup();
    const base = randomBytes(SIZE);
    base.copy(model);
    await dev.write(0, Buffer.from(base), false);
    const data = randomBytes(length);
    data.copy(model, offset);
    await dev.write(offset, data, false);
    expect((await dev.read(0, SIZE)).equals(model)).toBe(true);
    expect((await dev.read(offset, length)).equals(data)).toBe(true);
  });

  it('keeps a partial write to a never-written block surrounded by zeros', async () => {
    const { dev, model } = setup();
    const data = randomBytes(10);
    data.copy(model, 9 * CRYPT_BLOCK + 50);
    await dev.write(9 * CRYPT_BLOCK + 50, data, false);
    expect(
      (await dev.read(8 * CRYPT_BLOCK, 3 * CRYPT_BLOCK)).equals(
        model.subarray(8 * CRYPT_BLOCK, 11 * CRYPT_BLOCK),
      ),
    ).toBe(true);
  });

  it('loses no bytes when many unaligned writes to one block and aligned ones over it run at once', async () => {
    for (let round = 0; round < 20; round++) {
      const { inner, dev } = setup();
      inner.jitter = true;
      // 64 writes of 64 bytes each fill block 3 piecewise; none may undo another.
      const pieces = Array.from({ length: 64 }, (_, i) => ({
        offset: 3 * CRYPT_BLOCK + i * 64,
        data: randomBytes(64),
      }));
      // Plus partial writes at the far edges of blocks 2 and 4, whose blocks nothing else writes.
      const left = { offset: 2 * CRYPT_BLOCK + 5, data: randomBytes(100) };
      const right = { offset: 4 * CRYPT_BLOCK + 4000, data: randomBytes(96) };
      const all = [...pieces, left, right].sort(() => Math.random() - 0.5);
      await Promise.all(all.map((w) => dev.write(w.offset, w.data, false)));
      const model = Buffer.alloc(SIZE);
      for (const w of all) w.data.copy(model, w.offset);
      expect((await dev.read(0, SIZE)).equals(model)).toBe(true);
    }
  });

  it('orders an aligned whole-block write against concurrent partial writes to that block', async () => {
    for (let round = 0; round < 20; round++) {
      const { inner, dev } = setup();
      inner.jitter = true;
      const whole = randomBytes(CRYPT_BLOCK);
      const part = randomBytes(100);
      await Promise.all([
        dev.write(5 * CRYPT_BLOCK + 1000, part, false),
        dev.write(5 * CRYPT_BLOCK, whole, false),
      ]);
      const got = await dev.read(5 * CRYPT_BLOCK, CRYPT_BLOCK);
      // Either order is a valid outcome; a mix of the old (zero) block and the part is not.
      const partLast = Buffer.from(whole);
      part.copy(partLast, 1000);
      expect(got.equals(whole) || got.equals(partLast)).toBe(true);
    }
  });

  it('trims and write-zeroes whole blocks below as they are, and zeroes partial edges by rewriting them', async () => {
    const { inner, dev, model } = setup();
    const base = randomBytes(SIZE);
    base.copy(model);
    await dev.write(0, Buffer.from(base), false);
    inner.calls = [];
    await dev.trim(CRYPT_BLOCK + 100, 3 * CRYPT_BLOCK, false);
    model.fill(0, CRYPT_BLOCK + 100, 4 * CRYPT_BLOCK + 100);
    expect(inner.calls.filter((c) => !c.startsWith('read'))).toEqual([
      `write ${CRYPT_BLOCK}+${CRYPT_BLOCK}`,
      `write ${4 * CRYPT_BLOCK}+${CRYPT_BLOCK}`,
      `trim ${2 * CRYPT_BLOCK}+${2 * CRYPT_BLOCK}`,
    ]);
    // Trimmed blocks are holes below (zero ciphertext) and read back as zeros.
    expect(inner.data.subarray(2 * CRYPT_BLOCK, 4 * CRYPT_BLOCK).equals(Buffer.alloc(2 * CRYPT_BLOCK))).toBe(
      true,
    );
    await dev.writeZeroes(10 * CRYPT_BLOCK, 5, false);
    model.fill(0, 10 * CRYPT_BLOCK, 10 * CRYPT_BLOCK + 5);
    await dev.writeZeroes(20 * CRYPT_BLOCK, 6 * CRYPT_BLOCK, true);
    model.fill(0, 20 * CRYPT_BLOCK, 26 * CRYPT_BLOCK);
    expect((await dev.read(0, SIZE)).equals(model)).toBe(true);
    // A zeroed partial block is stored encrypted, not as zeros.
    expect(inner.data.subarray(10 * CRYPT_BLOCK, 10 * CRYPT_BLOCK + 5).equals(Buffer.alloc(5))).toBe(false);
  });

  it('refuses ranges outside the volume and leaves the data as it was', async () => {
    const { inner, dev } = setup();
    await dev.write(0, randomBytes(CRYPT_BLOCK), false);
    const before = Buffer.from(inner.data);
    await expect(dev.write(SIZE - 10, Buffer.alloc(20), false)).rejects.toThrow(
      /volume vol: range 262134\+20 is beyond the volume's 262144 bytes/,
    );
    await expect(dev.read(-1, 10)).rejects.toThrow(/bad range offset -1/);
    await expect(dev.trim(SIZE, 1, false)).rejects.toThrow(/beyond the volume/);
    expect(inner.data.equals(before)).toBe(true);
  });

  it('reads the data back with the same key only', async () => {
    const { inner, dev } = setup();
    const plain = randomBytes(CRYPT_BLOCK);
    await dev.write(0, Buffer.from(plain), false);
    const other = new CryptBlockDevice(inner, newDataKey(), 'vol', impl);
    expect((await other.read(0, CRYPT_BLOCK)).equals(plain)).toBe(false);
  });
});
