/**
 * A write-only replica is being filled from a snapshot copy underneath its head; a partial-block
 * write would leave the rest of that block as zeros in its head and shadow the copied data
 * (Longhorn bug #4354). The engine widens such writes to whole blocks with bytes read from a
 * read-write replica. The encryption layer widens partial-block writes the same way (a cipher
 * block is a 4 KiB block).
 */
export const WIDEN_BLOCK = 4096;

export interface Widening {
  offset: number;
  length: number;
}

/** The block-aligned range covering [offset, offset+length), clipped to the volume size. */
export function widenToBlocks(offset: number, length: number, size: number): Widening {
  const start = Math.floor(offset / WIDEN_BLOCK) * WIDEN_BLOCK;
  const end = Math.min(size, Math.ceil((offset + length) / WIDEN_BLOCK) * WIDEN_BLOCK);
  return { offset: start, length: end - start };
}

export function isAligned(offset: number, length: number, size: number): boolean {
  return offset % WIDEN_BLOCK === 0 && (length % WIDEN_BLOCK === 0 || offset + length === size);
}

/** Overlays `data` written at `offset` on `base`, which holds the widened range. */
export function overlay(base: Buffer, baseOffset: number, data: Buffer, offset: number): Buffer {
  data.copy(base, offset - baseOffset);
  return base;
}
