/**
 * AES-256-XTS (IEEE 1619) over whole 4 KiB blocks, the block number as the tweak: the same bytes
 * node:crypto's 'aes-256-xts' gives for one block with the block number (little-endian) as its
 * IV (the unit test holds the two equal). OpenSSL takes one tweak per cipher object and a cipher
 * object costs ~20 us to make, so one per block capped a core at ~130 MiB/s here; this computes
 * the XTS masks for a whole request itself and runs AES-ECB once per request over all of it.
 * With the native addon (native-xts.ts) it runs in place natively, much faster.
 */
import { type Cipher, createCipheriv, createDecipheriv, type Decipher } from 'node:crypto';
import { endianness } from 'node:os';
import { BlockError } from '../block/block-error.js';
import { ioBuffers } from '../block/buffer-pool.js';
import { CryptError } from './crypt-error.js';
import { type NativeXts, type NativeXtsEngine, nativeXts } from './native-xts.js';

/** The data unit: one tweak per 4 KiB block. */
export const CRYPT_BLOCK = 4096;
/** aes-256-xts: two AES-256 keys, one for the data and one for the tweak. */
export const XTS_KEY_BYTES = 64;

const WORDS_PER_BLOCK = CRYPT_BLOCK / 4;
/**
 * From this size a request is encrypted on the thread pool (measured, vaes: 1 MiB ~55 us, 4 KiB
 * 0.35 us; libcrypto: ~155 us and 0.7 us; a hand-off costs a few us).
 */
const ASYNC_MIN = 64 * 1024;

// The mask arithmetic reads the 128-bit tweak as little-endian 32-bit words.
if (endianness() !== 'LE') throw new Error('xts-cipher: a little-endian CPU is required');

export type XtsImplementation = 'native' | 'js';

export class XtsCipher {
  private readonly data: Cipher;
  private readonly dataInverse: Decipher;
  private readonly tweak: Cipher;
  private readonly native: { addon: NativeXts; handle: unknown } | null = null;
  /** Which code encrypts: the native addon when it is built, else the JS over AES-ECB. */
  readonly implementation: XtsImplementation;
  /** Within the addon: its own XTS over VAES, or libcrypto's; null for the JS cipher. */
  readonly nativeEngine: NativeXtsEngine | null;

  constructor(key: Buffer, use: XtsImplementation | 'best' = 'best') {
    if (key.length !== XTS_KEY_BYTES) {
      throw new CryptError(
        'INVALID_ARGUMENT',
        `aes-256-xts needs a ${XTS_KEY_BYTES}-byte key, got ${key.length}`,
      );
    }
    const k1 = key.subarray(0, 32);
    const k2 = key.subarray(32);
    // IEEE 1619 (and OpenSSL) refuse equal halves: XTS with K1 = K2 loses its security proof.
    if (k1.equals(k2)) throw new CryptError('INVALID_ARGUMENT', 'aes-256-xts key halves must differ');
    this.data = createCipheriv('aes-256-ecb', k1, null).setAutoPadding(false);
    this.dataInverse = createDecipheriv('aes-256-ecb', k1, null).setAutoPadding(false);
    this.tweak = createCipheriv('aes-256-ecb', k2, null).setAutoPadding(false);
    const addon = use === 'js' ? null : nativeXts();
    if (use === 'native' && !addon) {
      throw new CryptError('INVALID_ARGUMENT', 'the xts addon is not built (bash dataplane/native/build.sh)');
    }
    if (addon) this.native = { addon, handle: addon.create(key) };
    this.implementation = this.native ? 'native' : 'js';
    this.nativeEngine = this.native ? (this.native.addon.engine?.(this.native.handle) ?? 'libcrypto') : null;
  }

  /**
   * Encrypts `input` (whole 4 KiB blocks, the first one being block `firstBlock` of the volume)
   * and returns the result: `input` itself (encrypted in place) or a new buffer, in which case
   * `input` was scratch and holds garbage.
   */
  encrypt(input: Buffer, firstBlock: number): Buffer {
    return this.run(true, input, firstBlock);
  }

  /** Decrypts like `encrypt` encrypts (in place or into a new buffer). */
  decrypt(input: Buffer, firstBlock: number): Buffer {
    return this.run(false, input, firstBlock);
  }

  /**
   * Like `encrypt`, but a large request runs on libuv's thread pool (with the native addon), so
   * the event loop keeps serving other requests meanwhile. Small ones run at once: handing 4 KiB
   * to a thread costs more than encrypting it.
   */
  encryptAsync(input: Buffer, firstBlock: number): Promise<Buffer> {
    return this.runAsync(true, input, firstBlock);
  }

  decryptAsync(input: Buffer, firstBlock: number): Promise<Buffer> {
    return this.runAsync(false, input, firstBlock);
  }

  private runAsync(encrypt: boolean, input: Buffer, firstBlock: number): Promise<Buffer> {
    const native = this.native;
    if (!native || input.length < ASYNC_MIN) {
      try {
        return Promise.resolve(this.run(encrypt, input, firstBlock));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    if (input.length % CRYPT_BLOCK !== 0) {
      return Promise.reject(
        new BlockError('EINVAL', `xts: ${input.length} bytes is not whole ${CRYPT_BLOCK}-byte blocks`),
      );
    }
    return new Promise((resolve, reject) =>
      native.addon.runAsync(native.handle, encrypt, input, firstBlock, (err) =>
        err ? reject(new BlockError('EIO', err.message)) : resolve(input),
      ),
    );
  }

  private run(encrypt: boolean, input: Buffer, firstBlock: number): Buffer {
    const length = input.length;
    if (length === 0 || length % CRYPT_BLOCK !== 0) {
      throw new BlockError('EINVAL', `xts: ${length} bytes is not whole ${CRYPT_BLOCK}-byte blocks`);
    }
    if (this.native) {
      this.native.addon.run(this.native.handle, encrypt, input, firstBlock);
      return input;
    }
    const aes = encrypt ? this.data : this.dataInverse;
    const blocks = length / CRYPT_BLOCK;
    const mask = ioBuffers.acquire(length);
    try {
      this.fillMask(mask, blocks, firstBlock);
      const m = words(mask);
      const scratch = wordAligned(input);
      const x = words(scratch);
      for (let i = 0; i < m.length; i++) x[i]! ^= m[i]!;
      const out = wordAligned(aes.update(scratch));
      const y = words(out);
      for (let i = 0; i < m.length; i++) y[i]! ^= m[i]!;
      return out;
    } finally {
      ioBuffers.release(mask);
    }
  }

  /** T_j = E_K2(block number) * alpha^j for every 16-byte cipher block j of every 4 KiB block. */
  private fillMask(mask: Buffer, blocks: number, firstBlock: number): void {
    const tweaks = Buffer.alloc(blocks * 16);
    for (let b = 0; b < blocks; b++) {
      const n = firstBlock + b;
      tweaks.writeUInt32LE(n % 0x1_0000_0000, b * 16);
      tweaks.writeUInt32LE(Math.floor(n / 0x1_0000_0000), b * 16 + 4);
    }
    const t = words(wordAligned(this.tweak.update(tweaks)));
    const m = words(mask);
    for (let b = 0; b < blocks; b++) {
      let w0 = t[b * 4]!;
      let w1 = t[b * 4 + 1]!;
      let w2 = t[b * 4 + 2]!;
      let w3 = t[b * 4 + 3]!;
      const end = (b + 1) * WORDS_PER_BLOCK;
      for (let i = b * WORDS_PER_BLOCK; i < end; i += 4) {
        m[i] = w0;
        m[i + 1] = w1;
        m[i + 2] = w2;
        m[i + 3] = w3;
        // Multiply by alpha in GF(2^128): shift the little-endian 128-bit value left by one,
        // folding the bit shifted out back in as x^7 + x^2 + x + 1 (0x87).
        const carry = w3 >>> 31;
        w3 = ((w3 << 1) | (w2 >>> 31)) >>> 0;
        w2 = ((w2 << 1) | (w1 >>> 31)) >>> 0;
        w1 = ((w1 << 1) | (w0 >>> 31)) >>> 0;
        w0 = ((w0 << 1) ^ (carry * 0x87)) >>> 0;
      }
    }
  }
}

function words(buf: Buffer): Uint32Array {
  return new Uint32Array(buf.buffer, buf.byteOffset, buf.length >>> 2);
}

/** `buf`, or a copy of it when a Uint32Array cannot view it (a slice at an odd offset). */
function wordAligned(buf: Buffer): Buffer {
  if (buf.byteOffset % 4 === 0) return buf;
  const copy = Buffer.allocUnsafeSlow(buf.length);
  buf.copy(copy);
  return copy;
}
