import { pread } from './file-io.js';
import type { Layer } from './layer.js';
import { BLOCK_SIZE } from './validate.js';

/**
 * Reads bytes [a, b) of the view a chain presents (chain[0] newest) into out[outOff...].
 * Each byte comes from the newest layer whose index holds its block; bytes no layer holds are
 * zeros and touch no file. Runs held by one layer are one pread.
 */
export function readChain(
  chain: readonly Layer[],
  out: Buffer,
  outOff: number,
  a: number,
  b: number,
): Promise<void> {
  // Fast path (nearly every block request): one layer holds the whole range and no newer layer
  // holds any of it, or no layer holds any of it.
  const bs = Math.floor(a / BLOCK_SIZE);
  const be = Math.ceil(b / BLOCK_SIZE);
  for (const layer of chain) {
    if (b > layer.meta.size) break;
    if (layer.extents.covers(bs, be)) return pread(layer.fd, out, outOff, b - a, a);
    if (layer.extents.intersects(bs, be)) return readPieces(chain, out, outOff, a, b);
  }
  if (chain.every((l) => b <= l.meta.size)) {
    out.fill(0, outOff, outOff + b - a);
    return Promise.resolve();
  }
  return readPieces(chain, out, outOff, a, b);
}

/**
 * The layer holding all of [a, b) when the fast path above would read it with one pread (no
 * newer layer holds any of it), else null.
 */
export function layerHolding(chain: readonly Layer[], a: number, b: number): Layer | null {
  const bs = Math.floor(a / BLOCK_SIZE);
  const be = Math.ceil(b / BLOCK_SIZE);
  for (const layer of chain) {
    if (b > layer.meta.size) return null;
    if (layer.extents.covers(bs, be)) return layer;
    if (layer.extents.intersects(bs, be)) return null;
  }
  return null;
}

async function readPieces(chain: readonly Layer[], out: Buffer, outOff: number, a: number, b: number) {
  let gaps: number[] = [a, b];
  const reads: Promise<void>[] = [];
  const hits: number[] = [];
  for (const layer of chain) {
    if (gaps.length === 0) break;
    const next: number[] = [];
    const lsize = layer.meta.size;
    for (let i = 0; i < gaps.length; i += 2) {
      const gs = gaps[i]!;
      const ge = gaps[i + 1]!;
      let cursor = gs;
      const limit = Math.min(ge, lsize);
      if (limit > gs) {
        hits.length = 0;
        layer.extents.overlaps(Math.floor(gs / BLOCK_SIZE), Math.ceil(limit / BLOCK_SIZE), hits);
        for (let j = 0; j < hits.length; j += 2) {
          const ps = Math.max(gs, hits[j]! * BLOCK_SIZE);
          const pe = Math.min(limit, hits[j + 1]! * BLOCK_SIZE);
          if (ps > cursor) next.push(cursor, ps);
          if (pe > ps) reads.push(pread(layer.fd, out, outOff + ps - a, pe - ps, ps));
          cursor = pe;
        }
      }
      if (cursor < ge) next.push(cursor, ge);
    }
    gaps = next;
  }
  for (let i = 0; i < gaps.length; i += 2) out.fill(0, outOff + gaps[i]! - a, outOff + gaps[i + 1]! - a);
  if (reads.length === 1) await reads[0];
  else if (reads.length > 1) await Promise.all(reads);
}

/** Reads [a, b) of one layer's own bytes: holes (and bytes past its size) are zeros. */
export function readOwn(layer: Layer, out: Buffer, outOff: number, a: number, b: number): Promise<void> {
  return readChain([layer], out, outOff, a, b);
}
