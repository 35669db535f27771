import { webcrypto } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { compressFrame, decompressFrame } from 'lz4-napi';
import { type BlockKey, decryptBlock, keyedChecksum } from './block-crypto.js';
import type { CompressionMethod } from './config.js';
import { BackupError } from './errors.js';

/**
 * A block's name and its bytes on the target. The name (Longhorn's BlockChecksum) is the first
 * 64 hex digits of the SHA-512 of the uncompressed block, so equal blocks share one object
 * whatever the compression. lz4 is the LZ4 frame format (what Longhorn's Go lz4 library writes
 * and reads; checked against it in the tests), gzip is RFC 1952, none stores the bytes as they
 * are. All three run off the event loop (libuv's pool), so N workers use N cores.
 */

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

interface Codec {
  compress(data: Buffer): Promise<Buffer>;
  decompress(data: Buffer): Promise<Buffer>;
}

const CODECS = {
  lz4: { compress: (d) => compressFrame(d), decompress: (d) => decompressFrame(d) },
  gzip: { compress: (d) => gzipAsync(d), decompress: (d) => gunzipAsync(d) },
  none: { compress: async (d) => d, decompress: async (d) => d },
} as const satisfies Record<CompressionMethod, Codec>;

export function compressBlock(method: CompressionMethod, data: Buffer): Promise<Buffer> {
  return CODECS[method].compress(data);
}

export async function blockChecksum(data: Buffer): Promise<string> {
  const digest = await webcrypto.subtle.digest('SHA-512', data);
  return Buffer.from(digest).toString('hex').slice(0, 64);
}

/**
 * Decodes a block read from the target and checks it against its name. A block that does not
 * decode with its backup's method is tried with the other compressor (Longhorn does the same:
 * stores exist whose blocks were written with a method other than the cfg says). Throws
 * CORRUPT_BLOCK naming the block when nothing yields the checksum.
 */
export async function decodeBlock(
  method: CompressionMethod,
  stored: Buffer,
  checksum: string,
  blockSize: number,
  context: { volume: string; path: string },
  key?: BlockKey,
): Promise<Buffer> {
  if (key) {
    const plain = decryptBlock(key, checksum, stored);
    if (!plain) {
      throw new BackupError(
        'CORRUPT_BLOCK',
        `corrupt block ${checksum} (${context.path}): does not decrypt with key ${key.id}`,
        {
          block: checksum,
          volume: context.volume,
          path: context.path,
        },
      );
    }
    let data: Buffer;
    try {
      data = await CODECS[method].decompress(plain);
    } catch (err) {
      throw new BackupError(
        'CORRUPT_BLOCK',
        `corrupt block ${checksum} (${context.path}): ${(err as Error).message}`,
        {
          block: checksum,
          volume: context.volume,
        },
      );
    }
    if (data.length > blockSize || keyedChecksum(key, data) !== checksum) {
      throw new BackupError(
        'CORRUPT_BLOCK',
        `corrupt block ${checksum} (${context.path}): content does not match its name`,
        {
          block: checksum,
          volume: context.volume,
        },
      );
    }
    return data;
  }
  const order: CompressionMethod[] = [method, ...(['lz4', 'gzip'] as const).filter((m) => m !== method)];
  let reason = '';
  for (const m of order) {
    let data: Buffer;
    try {
      data = await CODECS[m].decompress(stored);
    } catch (err) {
      if (m === method) reason = `does not decode as ${m}: ${(err as Error).message}`;
      continue;
    }
    if (data.length > blockSize) {
      if (m === method) reason = `decodes to ${data.length} bytes, more than a ${blockSize}-byte block`;
      continue;
    }
    if ((await blockChecksum(data)) === checksum) return data;
    if (m === method) reason = 'content does not match its checksum';
  }
  throw new BackupError('CORRUPT_BLOCK', `corrupt block ${checksum} (${context.path}): ${reason}`, {
    block: checksum,
    volume: context.volume,
    path: context.path,
  });
}

let zeros = Buffer.alloc(2 * 1024 * 1024);

/** All zeros? (memcmp against a zero buffer: a backup tests every block it reads.) */
export function isZeroBlock(data: Buffer): boolean {
  if (data.length > zeros.length) zeros = Buffer.alloc(data.length);
  return data.equals(zeros.subarray(0, data.length));
}
