/**
 * A volume's snapshot chain as a tree (pure): Snapshot CRs (parent, children, size) with the
 * volume head as the newest leaf, drawn with box characters, oldest at the top; a snapshot a
 * VolumeSnapshot owns names it.
 */
import type { Snapshot, SnapshotInfo } from '@longhorn-ts/api';
import { formatAge, formatBytes } from '../output/format.js';

export const HEAD = 'volume-head';

export interface SnapshotNode {
  name: string;
  parent: string;
  children: string[];
  size: number;
  created: string;
  userCreated: boolean;
  removed: boolean;
  ready: boolean;
}

/**
 * The chain from the Snapshot CRs; where the running engine reports the chain
 * (Engine status.snapshots), its parent/children win: a CR's status can lag behind it.
 */
export function snapshotNodes(
  snapshots: readonly Snapshot[],
  engineSnapshots?: Readonly<Record<string, SnapshotInfo>>,
): SnapshotNode[] {
  const live = (name: string) => engineSnapshots?.[name];
  const kids = (m: Record<string, boolean> | undefined) => Object.keys(m ?? {}).filter((c) => m?.[c]);
  return snapshots.map((s) => ({
    name: s.metadata.name,
    parent: live(s.metadata.name)?.parent ?? s.status?.parent ?? '',
    children: kids(live(s.metadata.name)?.children ?? s.status?.children),
    size: s.status?.size ?? 0,
    created: s.status?.creationTime ?? s.metadata.creationTimestamp ?? '',
    userCreated: s.status?.userCreated ?? s.spec.createSnapshot === true,
    removed: s.status?.markRemoved ?? false,
    ready: s.status?.readyToUse ?? false,
  }));
}

function byCreation(a: SnapshotNode, b: SnapshotNode): number {
  return a.created.localeCompare(b.created) || a.name.localeCompare(b.name);
}

/** The head hangs under one snapshot: the newest that lists it (older listings are stale). */
export function headParentOf(nodes: readonly SnapshotNode[]): string {
  const listing = nodes.filter((n) => n.children.includes(HEAD)).sort(byCreation);
  return listing[listing.length - 1]?.name ?? '';
}

/**
 * The lines of the tree; `-` for an empty chain. `owners` (snapshot → `namespace/name`) marks
 * the snapshots a CSI VolumeSnapshot owns.
 */
export function renderSnapshotTree(
  nodes: readonly SnapshotNode[],
  now: number,
  owners: ReadonlyMap<string, string> = new Map(),
): string[] {
  if (nodes.length === 0) return ['(no snapshots)'];
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const headParent = headParentOf(nodes);
  const childrenOf = (n: SnapshotNode): SnapshotNode[] => {
    const named = n.children.filter((c) => c !== HEAD).map((c) => byName.get(c));
    const known = named.filter((c): c is SnapshotNode => c !== undefined);
    // Children a parent does not list (a status not yet written) still hang under it.
    for (const m of nodes) if (m.parent === n.name && !known.includes(m)) known.push(m);
    return known.sort(byCreation);
  };
  const label = (n: SnapshotNode) => {
    const marks = [
      n.userCreated ? 'user' : 'system',
      ...(n.removed ? ['removed'] : []),
      ...(!n.ready && !n.removed ? ['not ready'] : []),
    ];
    const owner = owners.get(n.name);
    const ownedBy = owner === undefined ? '' : `  VolumeSnapshot ${owner}`;
    return `${n.name}  ${formatBytes(n.size)}  ${formatAge(n.created, now)}  (${marks.join(', ')})${ownedBy}`;
  };
  const lines: string[] = [];
  const walk = (n: SnapshotNode, prefix: string, last: boolean, root: boolean) => {
    lines.push(root ? label(n) : `${prefix}${last ? '└── ' : '├── '}${label(n)}`);
    const kids: (SnapshotNode | typeof HEAD)[] = childrenOf(n);
    if (n.name === headParent) kids.push(HEAD);
    const next = root ? '' : `${prefix}${last ? '    ' : '│   '}`;
    kids.forEach((k, i) => {
      const isLast = i === kids.length - 1;
      if (k === HEAD) lines.push(`${next}${isLast ? '└── ' : '├── '}${HEAD}`);
      else walk(k, next, isLast, false);
    });
  };
  const roots = nodes.filter((n) => n.parent === '' || !byName.has(n.parent)).sort(byCreation);
  for (const r of roots) walk(r, '', true, true);
  if (headParent === '' || !byName.has(headParent)) lines.push(HEAD);
  return lines;
}
