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
 *
 * Data-key rotation (data-key-rotation.ts): the layer may hold two keys and a watermark; blocks
 * below it are under the current key, the others under the previous one. `reencrypt` moves one
 * chunk across under the range lock; while a rotation runs, reads take the lock too, so a read
 * never decrypts a chunk with the key of the other side of a moving watermark.
 */
import type { BlockDevice } from '../block/block-device.js';
import { BlockError } from '../block/block-error.js';
import { isAligned, widenToBlocks } from '../block/block-widening.js';
import { ioBuffers } from '../block/buffer-pool.js';
import { RangeLock } from '../block/range-lock.js';
import { blockFingerprint, blocksToReencrypt, keyRuns } from './data-key-rotation.js';
import type { NativeXtsEngine } from './native-xts.js';
import { CRYPT_BLOCK, XtsCipher, type XtsImplementation } from './xts-cipher.js';

const ZERO_BLOCK = Buffer.alloc(CRYPT_BLOCK);

/** A volume in the middle of a data-key rotation: both keys and the watermark between them. */
export interface RotatingKeys {
  current: Buffer;
  previous: Buffer;
  /** Bytes below this are under `current`. */
  watermark: number;
}

export class CryptBlockDevice implements BlockDevice {
  private readonly lock = new RangeLock();
  private cipher: XtsCipher;
  /** The key blocks at and above the watermark are under; null when no rotation runs. */
  private previous: XtsCipher | null = null;
  private watermark = Number.POSITIVE_INFINITY;
  /** Reads in flight that took no lock (no rotation ran when they started). */
  private unlockedReads = 0;
  private unlockedDrained: (() => void) | null = null;

  /**
   * `keys`: the volume's 64-byte aes-256-xts data key (unwrapped), or both keys of a rotation
   * that was under way when the last engine stopped.
   */
  constructor(
    private readonly inner: BlockDevice,
    keys: Buffer | RotatingKeys,
    private readonly volume = '',
    private readonly implementation_: XtsImplementation | 'best' = 'best',
  ) {
    if (Buffer.isBuffer(keys)) this.cipher = new XtsCipher(keys, implementation_);
    else {
      this.cipher = new XtsCipher(keys.current, implementation_);
      this.previous = new XtsCipher(keys.previous, implementation_);
      this.watermark = keys.watermark;
    }
  }

  /** Where the current key ends (bytes); Infinity when no rotation runs. */
  get rotationWatermark(): number {
    return this.watermark;
  }

  /**
   * Starts a rotation to `newKey`: the key in use becomes the previous one, every block is
   * under it (watermark 0). Waits for reads that took no lock to finish first.
   */
  async beginRotation(newKey: Buffer): Promise<void> {
    if (this.previous) throw new BlockError('EPERM', `volume ${this.volume}: a data-key rotation is running`);
    const next = new XtsCipher(newKey, this.implementation_);
    // From here reads take the lock; the ones already in flight took none and must drain.
    this.previous = this.cipher;
    this.cipher = next;
    this.watermark = 0;
    if (this.unlockedReads > 0) await new Promise<void>((resolve) => (this.unlockedDrained = resolve));
  }

  /**
   * Ends the rotation when the watermark has reached the volume's end (false when the volume
   * grew meanwhile: more chunks to do). `commit` records it durably first; no write can land
   * past the watermark (under the previous key) while it runs.
   */
  async finishRotation(commit: () => Promise<void>): Promise<boolean> {
    const from = this.watermark;
    const release = await this.lock.acquire(from, Number.MAX_SAFE_INTEGER - from);
    try {
      if (this.watermark < this.inner.size()) return false;
      await commit();
      this.previous = null;
      this.watermark = Number.POSITIVE_INFINITY;
      return true;
    } finally {
      release();
    }
  }

  /**
   * Re-encrypts the chunk at the watermark from the previous key to the current one and moves
   * the watermark past it, all under the range lock. `fingerprints`: those recorded for this
   * chunk by an engine that stopped while writing it (only blocks that differ are redone).
   * `recordInProgress` runs once the new ciphertext is known and before it is written;
   * `recordDone` after it was written and flushed, before the lock is released: each must make
   * its record durable (data-key-rotation.ts explains the crash window).
   */
  async reencrypt(
    length: number,
    fingerprints: readonly string[] | undefined,
    recordInProgress: (end: number, blocks: string[]) => Promise<void>,
    recordDone: (end: number) => Promise<void>,
  ): Promise<void> {
    const previous = this.previous;
    if (!previous) throw new BlockError('EINVAL', `volume ${this.volume}: no data-key rotation runs`);
    const offset = this.watermark;
    this.check(offset, length);
    const release = await this.lock.acquire(offset, length);
    try {
      const raw = await this.inner.read(offset, length);
      const bytes = Buffer.from(raw);
      ioBuffers.release(raw);
      const redo = blocksToReencrypt(bytes, fingerprints);
      const blocks: string[] = [];
      const firstBlock = offset / CRYPT_BLOCK;
      for (let b = 0; b < redo.length; b++) {
        const block = bytes.subarray(b * CRYPT_BLOCK, (b + 1) * CRYPT_BLOCK);
        if (redo[b]) {
          // One block at a time: the blocks to redo need not be contiguous.
          const plain = previous.decrypt(Buffer.from(block), firstBlock + b);
          this.cipher.encrypt(plain, firstBlock + b).copy(block);
        }
        blocks.push(blockFingerprint(block));
      }
      await recordInProgress(offset + length, blocks);
      // Holes stay holes: only the runs of blocks that changed go down.
      for (let b = 0; b < redo.length; ) {
        if (!redo[b]) {
          b++;
          continue;
        }
        let e = b;
        while (e < redo.length && redo[e]) e++;
        await this.inner.write(
          offset + b * CRYPT_BLOCK,
          bytes.subarray(b * CRYPT_BLOCK, e * CRYPT_BLOCK),
          false,
        );
        b = e;
      }
      await this.inner.flush();
      await recordDone(offset + length);
      this.watermark = offset + length;
    } finally {
      release();
    }
  }

  /** Which code encrypts (the native addon or the JS fallback). */
  get implementation(): XtsImplementation {
    return this.cipher.implementation;
  }

  /** Within the native addon: its own XTS over VAES or libcrypto's; null for the JS cipher. */
  get nativeEngine(): NativeXtsEngine | null {
    return this.cipher.nativeEngine;
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
    let plain: Buffer;
    if (!this.previous) {
      this.unlockedReads++;
      try {
        plain = await this.readPlain(wide.offset, wide.length);
      } finally {
        if (--this.unlockedReads === 0 && this.unlockedDrained) {
          this.unlockedDrained();
          this.unlockedDrained = null;
        }
      }
    } else {
      const release = await this.lock.acquire(wide.offset, wide.length);
      try {
        plain = await this.readPlain(wide.offset, wide.length);
      } finally {
        release();
      }
    }
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
      const cipher = await this.crypt(true, plain, wide.offset);
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
        await this.inner.write(s, await this.crypt(true, plain, s), fua);
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
    const plain = await this.crypt(false, cipher, offset);
    if (plain !== cipher) ioBuffers.release(cipher);
    for (const o of holes) plain.fill(0, o, o + CRYPT_BLOCK);
    return plain;
  }

  /**
   * Encrypts or decrypts whole blocks at `offset`, each with the key of its side of the
   * watermark; returns `buf` (in place) or a new buffer, as XtsCipher does.
   */
  private async crypt(encrypt: boolean, buf: Buffer, offset: number): Promise<Buffer> {
    const previous = this.previous;
    if (!previous || offset + buf.length <= this.watermark) {
      return encrypt
        ? this.cipher.encryptAsync(buf, offset / CRYPT_BLOCK)
        : this.cipher.decryptAsync(buf, offset / CRYPT_BLOCK);
    }
    for (const run of keyRuns(offset, buf.length, this.watermark)) {
      const part = buf.subarray(run.offset - offset, run.offset - offset + run.length);
      const c = run.key === 'current' ? this.cipher : previous;
      const out = await (encrypt
        ? c.encryptAsync(part, run.offset / CRYPT_BLOCK)
        : c.decryptAsync(part, run.offset / CRYPT_BLOCK));
      if (out !== part) {
        out.copy(part);
        if (ioBuffers.owns(out)) ioBuffers.release(out);
      }
    }
    return buf;
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
