import type { ByteRange } from '../replica/types.js';

/**
 * Planning a layer transfer onto a replica that may already hold an old copy of the layer.
 * The layer is cut into chunk-aligned windows (2 MiB, Longhorn's batch); per window:
 * - the source holds nothing there: nothing to send (the staged layer starts as holes);
 * - the target holds no copy, or its allocation in the window differs: send the source's
 *   data ranges of the window;
 * - both hold exactly the same allocated ranges there: compare SHA-512 of the window on both
 *   sides, and send it only if the hashes differ (else copy the target's own bytes locally).
 * Pure functions, so the rules can be tested without replicas.
 */

export interface Window {
  /** Window index: the window covers [index * chunk, (index + 1) * chunk) clipped to the layer. */
  index: number;
  offset: number;
  length: number;
  /** The source's data ranges inside the window (clipped). */
  ranges: ByteRange[];
}

export interface LayerDiff {
  /** Windows to send from the source (whole, or only their data ranges). */
  send: Window[];
  /** Windows with identical allocation on both sides: hash both, send only if they differ. */
  compare: Window[];
}

/** Splits sorted disjoint ranges at chunk boundaries, keyed by window index. */
export function splitIntoWindows(ranges: readonly ByteRange[], chunk: number): Map<number, ByteRange[]> {
  const out = new Map<number, ByteRange[]>();
  for (const r of ranges) {
    let off = r.offset;
    const end = r.offset + r.length;
    while (off < end) {
      const index = Math.floor(off / chunk);
      const stop = Math.min(end, (index + 1) * chunk);
      let list = out.get(index);
      if (!list) {
        list = [];
        out.set(index, list);
      }
      list.push({ offset: off, length: stop - off });
      off = stop;
    }
  }
  return out;
}

function sameRanges(a: readonly ByteRange[] | undefined, b: readonly ByteRange[] | undefined): boolean {
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i]!.offset !== b[i]!.offset || a[i]!.length !== b[i]!.length) return false;
  }
  return true;
}

/**
 * `source`: the source layer's data ranges; `own`: the target's copy's data ranges, or null
 * when the target holds no usable copy (then everything is sent).
 */
export function planLayerDiff(
  source: readonly ByteRange[],
  own: readonly ByteRange[] | null,
  size: number,
  chunk: number,
): LayerDiff {
  const src = splitIntoWindows(source, chunk);
  const mine = own ? splitIntoWindows(own, chunk) : new Map<number, ByteRange[]>();
  const send: Window[] = [];
  const compare: Window[] = [];
  const indexes = [...src.keys()].sort((a, b) => a - b);
  for (const index of indexes) {
    const ranges = src.get(index)!;
    const offset = index * chunk;
    const w: Window = { index, offset, length: Math.min(chunk, size - offset), ranges };
    if (own && sameRanges(ranges, mine.get(index))) compare.push(w);
    else send.push(w);
  }
  return { send, compare };
}

/** Runs of consecutive windows, each at most `maxWindows` long (one checksum request each). */
export function compareRuns(windows: readonly Window[], maxWindows: number): Window[][] {
  const runs: Window[][] = [];
  let run: Window[] = [];
  for (const w of windows) {
    const last = run[run.length - 1];
    if (last && (w.index !== last.index + 1 || run.length >= maxWindows)) {
      runs.push(run);
      run = [];
    }
    run.push(w);
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

export function rangeBytes(ranges: readonly ByteRange[]): number {
  let n = 0;
  for (const r of ranges) n += r.length;
  return n;
}

/** True when both lists describe the same bytes (allocated ranges compared exactly). */
export function sameAllocation(a: readonly ByteRange[], b: readonly ByteRange[]): boolean {
  return sameRanges(a, b);
}
