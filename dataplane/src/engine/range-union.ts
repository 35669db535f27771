import type { ByteRange } from '../replica/types.js';

/** The union of several lists of byte ranges, sorted and with touching ranges joined. */
export function unionRanges(lists: readonly (readonly ByteRange[])[]): ByteRange[] {
  const all = lists.flat().filter((r) => r.length > 0);
  all.sort((a, b) => a.offset - b.offset);
  const out: ByteRange[] = [];
  for (const r of all) {
    const last = out[out.length - 1];
    if (last && r.offset <= last.offset + last.length) {
      last.length = Math.max(last.length, r.offset + r.length - last.offset);
    } else out.push({ offset: r.offset, length: r.length });
  }
  return out;
}

/** The total number of bytes in a list of disjoint ranges. */
export function rangeBytes(ranges: readonly ByteRange[]): number {
  return ranges.reduce((sum, r) => sum + r.length, 0);
}
