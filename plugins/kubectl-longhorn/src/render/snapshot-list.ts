/** `snapshot list -o wide`: one row per snapshot, with the VolumeSnapshot that owns it (pure). */
import type { Snapshot, SnapshotInfo } from '@longhorn-ts/api';
import { formatAge, formatBytes, orDash, renderTable } from '../output/format.js';
import { snapshotNodes } from './snapshot-tree.js';

export function renderSnapshotRows(
  snapshots: readonly Snapshot[],
  now: number,
  engineSnapshots?: Readonly<Record<string, SnapshotInfo>>,
  owners: ReadonlyMap<string, string> = new Map(),
): string {
  const rows = snapshotNodes(snapshots, engineSnapshots)
    .sort((a, b) => a.created.localeCompare(b.created) || a.name.localeCompare(b.name))
    .map((s) => [
      s.name,
      orDash(s.parent),
      formatBytes(s.size),
      s.userCreated ? 'user' : 'system',
      String(s.ready),
      String(s.removed),
      formatAge(s.created || undefined, now),
      orDash(owners.get(s.name)),
    ]);
  return renderTable(
    ['name', 'parent', 'size', 'created-by', 'ready', 'removed', 'age', 'volumesnapshot'],
    rows,
  );
}
