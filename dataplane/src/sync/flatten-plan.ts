import { BlockError } from '../block/block-error.js';
import { ReplicaError } from '../replica/errors.js';
import type { ByteRange } from '../replica/types.js';
import { COPY_CHUNK, type CopyPiece, planCopy } from './copy-plan.js';

/**
 * Planning a clone: the volume as it was at one snapshot, flattened into a single layer. Each
 * byte comes from the newest layer of the snapshot's lineage that holds it (the read rule of a
 * chain); bytes no layer holds stay holes, so they read as zeros on the clone too.
 * Pure functions, so the rules are tested without replicas.
 */

/** The part of a layer's chain a lineage walk needs. */
export interface LineageLayer {
  name: string;
  parent: string | null;
}

/**
 * The snapshot and its ancestors, oldest first, found by parent links (not chain order: after
 * a revert the chain holds branches the snapshot does not descend from).
 */
export function snapshotLineage<T extends LineageLayer>(chain: readonly T[], snapshot: string): T[] {
  const byName = new Map(chain.map((l) => [l.name, l]));
  const out: T[] = [];
  let cur = byName.get(snapshot);
  if (cur === undefined)
    throw new ReplicaError('SNAPSHOT_NOT_FOUND', `no snapshot ${snapshot}`, { layer: snapshot });
  while (cur !== undefined) {
    if (out.length > chain.length) throw new BlockError('EIO', `the chain of ${snapshot} has a cycle`);
    out.push(cur);
    if (cur.parent === null) break;
    const parent = byName.get(cur.parent);
    if (parent === undefined)
      throw new BlockError('EIO', `layer ${cur.name} names a missing parent ${cur.parent}`);
    cur = parent;
  }
  return out.reverse();
}

/** `ranges` minus `covered`; both sorted and disjoint. */
export function subtractRanges(ranges: readonly ByteRange[], covered: readonly ByteRange[]): ByteRange[] {
  const out: ByteRange[] = [];
  let j = 0;
  for (const r of ranges) {
    let start = r.offset;
    const end = r.offset + r.length;
    while (j < covered.length && covered[j]!.offset + covered[j]!.length <= start) j++;
    let k = j;
    while (start < end && k < covered.length && covered[k]!.offset < end) {
      const c = covered[k]!;
      if (c.offset > start) out.push({ offset: start, length: c.offset - start });
      start = Math.max(start, c.offset + c.length);
      k++;
    }
    if (start < end) out.push({ offset: start, length: end - start });
  }
  return out;
}

/** Union of two sorted disjoint lists, touching ranges joined. */
function mergeRanges(a: readonly ByteRange[], b: readonly ByteRange[]): ByteRange[] {
  const all = [...a, ...b].sort((x, y) => x.offset - y.offset);
  const out: ByteRange[] = [];
  for (const r of all) {
    const last = out[out.length - 1];
    if (last !== undefined && r.offset <= last.offset + last.length) {
      last.length = Math.max(last.length, r.offset + r.length - last.offset);
    } else out.push({ ...r });
  }
  return out;
}

/**
 * `lineage`: the layers oldest first with their own data ranges (sorted, disjoint). Returns
 * pieces of at most `chunk` bytes, disjoint across layers, that together hold the flattened
 * volume: copied in any order into one layer they rebuild the snapshot's bytes exactly.
 */
export function planFlatten(
  lineage: readonly { name: string; ranges: readonly ByteRange[] }[],
  chunk = COPY_CHUNK,
): CopyPiece[] {
  let covered: ByteRange[] = [];
  const visible: { name: string; ranges: ByteRange[] }[] = [];
  for (let i = lineage.length - 1; i >= 0; i--) {
    const layer = lineage[i]!;
    const own = subtractRanges(layer.ranges, covered);
    visible.push({ name: layer.name, ranges: own });
    covered = mergeRanges(covered, layer.ranges);
  }
  return planCopy(visible.reverse(), chunk);
}
