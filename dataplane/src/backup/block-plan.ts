import type { ByteRange } from '../replica/types.js';
import type { BackupConfig, BlockMapping } from './config.js';

/**
 * The pure decisions of a backup and of GC: which blocks to read, how the new block list is
 * merged over the last backup's, and which blocks no backup references any more.
 */

/** One layer of a snapshot's chain, newest first (the snapshot itself, its parent, ...). */
export interface ChainLayer {
  name: string;
  ranges: readonly ByteRange[];
}

/**
 * Block offsets to read for a backup of the snapshot at chain[0]: every block holding data in a
 * layer newer than `lastSnapshot` (all layers when it is null: a full backup). Sorted. Blocks
 * past `size` are cut off; a partial last block counts whole.
 */
export function changedBlocks(
  chain: readonly ChainLayer[],
  lastSnapshot: string | null,
  blockSize: number,
  size: number,
): number[] {
  const blocks = new Set<number>();
  for (const layer of chain) {
    if (layer.name === lastSnapshot) break;
    for (const r of layer.ranges) {
      const end = Math.min(r.offset + r.length, size);
      for (let b = Math.floor(r.offset / blockSize); b * blockSize < end; b++) blocks.add(b * blockSize);
    }
  }
  return [...blocks].sort((a, b) => a - b);
}

/**
 * Whether an incremental backup on top of `lastSnapshot` is possible: it must be an ancestor of
 * the snapshot (or the snapshot itself: then nothing changed, but Longhorn does a full backup
 * in that case and so do we). A last snapshot that was deleted, purged or is on another branch
 * after a revert means a full backup.
 */
export function incrementalBase(chainNames: readonly string[], lastSnapshot: string | null): string | null {
  if (!lastSnapshot) return null;
  const i = chainNames.indexOf(lastSnapshot);
  return i > 0 ? lastSnapshot : null;
}

/**
 * The new backup's block list: the last backup's list with this backup's changed blocks laid
 * over it (a changed block that reads as zeros removes the offset: absent blocks restore as
 * zeros), cut at the volume's size, sorted by offset.
 */
export function mergeBlocks(
  last: readonly BlockMapping[],
  changed: ReadonlyMap<number, string | null>,
  size: number,
): BlockMapping[] {
  const byOffset = new Map<number, string>();
  for (const b of last) byOffset.set(b.Offset, b.BlockChecksum);
  for (const [offset, checksum] of changed) {
    if (checksum === null) byOffset.delete(offset);
    else byOffset.set(offset, checksum);
  }
  return [...byOffset]
    .filter(([offset]) => offset < size)
    .sort((a, b) => a[0] - b[0])
    .map(([Offset, BlockChecksum]) => ({ Offset, BlockChecksum }));
}

/** Blocks present on the target that no remaining backup references (Longhorn's refcount GC). */
export function unreferencedBlocks(present: Iterable<string>, backups: readonly BackupConfig[]): string[] {
  const referenced = new Set<string>();
  for (const b of backups) for (const m of b.Blocks) referenced.add(m.BlockChecksum);
  return [...present].filter((c) => !referenced.has(c));
}

/**
 * The backup that becomes the volume's last one after another was deleted: the newest snapshot
 * among the remaining complete backups.
 */
export function latestBackup(backups: readonly BackupConfig[]): BackupConfig | undefined {
  let best: BackupConfig | undefined;
  for (const b of backups) {
    if (b.CreatedTime === '') continue;
    if (!best || Date.parse(b.SnapshotCreatedAt) > Date.parse(best.SnapshotCreatedAt)) best = b;
  }
  return best;
}

/**
 * What turns a volume restored from backup `from` into backup `to` (Longhorn's incremental
 * restore, for standby volumes): blocks whose checksum differs or that are new are written;
 * blocks `from` had and `to` has not are zeroed (absent blocks are zeros). Both lists sorted.
 */
export function incrementalRestorePlan(
  from: readonly BlockMapping[],
  to: readonly BlockMapping[],
): { write: BlockMapping[]; zero: number[] } {
  const before = new Map(from.map((b) => [b.Offset, b.BlockChecksum]));
  const write = to.filter((b) => before.get(b.Offset) !== b.BlockChecksum);
  const after = new Set(to.map((b) => b.Offset));
  const zero = from.filter((b) => !after.has(b.Offset)).map((b) => b.Offset);
  return { write, zero };
}
