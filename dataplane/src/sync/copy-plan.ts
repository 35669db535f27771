import type { ByteRange } from '../replica/types.js';

/** Largest piece of a layer sent in one request (Longhorn batches 2 MiB). */
export const COPY_CHUNK = 2 * 1024 * 1024;

export interface CopyPiece {
  layer: string;
  offset: number;
  length: number;
}

/** Splits each layer's allocated ranges into pieces of at most `chunk` bytes. Holes are not sent. */
export function planCopy(layers: { name: string; ranges: ByteRange[] }[], chunk = COPY_CHUNK): CopyPiece[] {
  const pieces: CopyPiece[] = [];
  for (const { name, ranges } of layers) {
    for (const r of ranges) {
      for (let off = r.offset; off < r.offset + r.length; off += chunk) {
        pieces.push({ layer: name, offset: off, length: Math.min(chunk, r.offset + r.length - off) });
      }
    }
  }
  return pieces;
}

export function totalBytes(pieces: readonly CopyPiece[]): number {
  let sum = 0;
  for (const p of pieces) sum += p.length;
  return sum;
}
