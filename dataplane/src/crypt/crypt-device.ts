/**
 * A BlockDevice layer that encrypts what it writes and decrypts what it reads, stacked directly
 * above the engine so replicas, rebuilds, snapshots and backups only ever hold ciphertext.
 *
 * Blocks are 4 KiB, each encrypted with AES-256-XTS and its block number as the tweak. A write
 * that does not cover whole blocks is widened: its edge blocks are read, decrypted, overlaid,
 * re-encrypted and written whole, under a range lock that every write takes, so two writes to
 * parts of one block cannot lose each other's bytes.
 *
 * Holes: a never-written or trimmed block reads from the replicas as zeros. An all-zero
 * ciphertext block therefore means "zeros" and is not decrypted; trims and write-zeroes go down
 * as they are (holes stay holes). A real block encrypting to all zeros has probability 2^-32768.
 */
import type { BlockDevice } from '../block/block-device.js';
import { BlockError } from '../block/block-error.js';
import { isAligned, widenToBlocks } from '../block/block-widening.js';
import { ioBuffers } from '../block/buffer-pool.js';
import { RangeLock } from '../block/range-lock.js';
import { CRYPT_BLOCK, XtsCipher, type XtsImplementation } from './xts-cipher.js';

const ZERO_BLOCK = Buffer.alloc(CRYPT_BLOCK);

export class CryptBlockDevice implements BlockDevice {
  private readonly lock = new RangeLock();
  private readonly cipher: XtsCipher;

  /** `dataKey`: the volume's 64-byte aes-256-xts data key (unwrapped). */
  constructor(
    private readonly inner: BlockDevice,
    dataKey: Buffer,
    private readonly volume = '',
    implementation: XtsImplementation | 'best' = 'best',
  ) {
    this.cipher = new XtsCipher(dataKey, implementation);
  }

  /** Which code encrypts (the native addon or the JS fallback). */
  get implementation(): XtsImplementation {
    return this.cipher.implementation;
  }

  get canMultiConn(): boolean {
    return this.inner.canMultiConn;
  }

  size(): number {
    return this.inner.size();
  }

  async read(offset: number, length: number): Promise<Buffer> {
    this.check(offset, length);
    if (length === 0) return Buffer.alloc(0);
    const wide = widenToBlocks(offset, length, this.inner.size());
    const plain = await this.readPlain(wide.offset, wide.length);
    if (wide.offset === offset && wide.length === length) return plain;
    return plain.subarray(offset - wide.offset, offset - wide.offset + length);
  }

  async write(offset: number, data: Buffer, fua: boolean): Promise<void> {
    this.check(offset, data.length);
    if (data.length === 0) return;
    const size = this.inner.size();
    const wide = widenToBlocks(offset, data.length, size);
    const release = await this.lock.acquire(wide.offset, wide.length);
    try {
      // A pooled buffer was handed over by the frontend (as the engine takes it): the cipher
      // may use it as scratch. Anyone else's buffer is copied first and left as it was.
      let plain = data;
      if (!isAligned(offset, data.length, size)) {
        plain = ioBuffers.acquire(wide.length);
        await this.readEdges(plain, wide.offset, offset, data.length);
        data.copy(plain, offset - wide.offset);
        ioBuffers.release(data);
      } else if (!ioBuffers.owns(data)) {
        plain = ioBuffers.acquire(data.length);
        data.copy(plain);
      }
      const cipher = await this.cipher.encryptAsync(plain, wide.offset / CRYPT_BLOCK);
      // Encrypted in place, the buffer goes down (the engine releases it); else it was scratch.
      if (cipher !== plain) ioBuffers.release(plain);
      await this.inner.write(wide.offset, cipher, fua);
    } finally {
      release();
    }
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  trim(offset: number, length: number, fua: boolean): Promise<void> {
    return this.zero(offset, length, fua, (o, l) => this.inner.trim(o, l, fua));
  }

  writeZeroes(offset: number, length: number, fua: boolean): Promise<void> {
    return this.zero(offset, length, fua, (o, l) => this.inner.writeZeroes(o, l, fua));
  }

  /**
   * Whole blocks go down as trims/write-zeroes (zero ciphertext reads back as zeros); partial
   * edge blocks are written as encrypted blocks with the range zeroed.
   */
  private async zero(
    offset: number,
    length: number,
    fua: boolean,
    whole: (offset: number, length: number) => Promise<void>,
  ): Promise<void> {
    this.check(offset, length);
    if (length === 0) return;
    const end = offset + length;
    const size = this.inner.size();
    const wide = widenToBlocks(offset, length, size);
    const wideEnd = wide.offset + wide.length;
    const release = await this.lock.acquire(wide.offset, wide.length);
    try {
      const midStart = Math.ceil(offset / CRYPT_BLOCK) * CRYPT_BLOCK;
      const midEnd = end === size ? end : Math.floor(end / CRYPT_BLOCK) * CRYPT_BLOCK;
      const edges: [number, number][] =
        midEnd <= midStart
          ? [[wide.offset, wideEnd]]
          : [
              [wide.offset, midStart],
              [midEnd, wideEnd],
            ];
      for (const [s, e] of edges) {
        if (e <= s) continue;
        const from = Math.max(s, offset);
        const to = Math.min(e, end);
        const plain = await this.readPlain(s, e - s);
        plain.fill(0, from - s, to - s);
        await this.inner.write(s, await this.cipher.encryptAsync(plain, s / CRYPT_BLOCK), fua);
      }
      if (midEnd > midStart) await whole(midStart, midEnd - midStart);
    } finally {
      release();
    }
  }

  /** Whole blocks from below, decrypted; all-zero ciphertext blocks are holes and read as zeros. */
  private async readPlain(offset: number, length: number): Promise<Buffer> {
    const cipher = await this.inner.read(offset, length);
    const holes: number[] = [];
    for (let o = 0; o < length; o += CRYPT_BLOCK) {
      if (ZERO_BLOCK.compare(cipher, o, o + CRYPT_BLOCK) === 0) holes.push(o);
    }
    // All holes: the zeros we got are the answer.
    if (holes.length * CRYPT_BLOCK === length) return cipher;
    const plain = await this.cipher.decryptAsync(cipher, offset / CRYPT_BLOCK);
    if (plain !== cipher) ioBuffers.release(cipher);
    for (const o of holes) plain.fill(0, o, o + CRYPT_BLOCK);
    return plain;
  }

  /** Fills the partial first and last blocks of `buf` (covering whole blocks from `bufOffset`). */
  private async readEdges(buf: Buffer, bufOffset: number, offset: number, length: number): Promise<void> {
    const end = offset + length;
    const bufEnd = bufOffset + buf.length;
    const first = offset > bufOffset ? bufOffset : -1;
    const last = end < bufEnd ? bufEnd - CRYPT_BLOCK : -1;
    if (first >= 0 && last >= 0 && last - first <= CRYPT_BLOCK) {
      // One or two adjacent blocks: one read.
      (await this.readPlain(first, bufEnd - first)).copy(buf, first - bufOffset);
      return;
    }
    for (const b of [first, last]) {
      if (b >= 0) (await this.readPlain(b, CRYPT_BLOCK)).copy(buf, b - bufOffset);
    }
  }

  private check(offset: number, length: number): void {
    const size = this.inner.size();
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new BlockError('EINVAL', `volume ${this.volume}: bad range offset ${offset} length ${length}`);
    }
    if (offset + length > size) {
      throw new BlockError(
        'EINVAL',
        `volume ${this.volume}: range ${offset}+${length} is beyond the volume's ${size} bytes`,
      );
    }
    if (size % CRYPT_BLOCK !== 0) {
      throw new BlockError(
        'EINVAL',
        `volume ${this.volume}: size ${size} is not whole ${CRYPT_BLOCK}-byte blocks`,
      );
    }
  }
}
