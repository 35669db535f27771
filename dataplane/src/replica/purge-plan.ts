/**
 * Which removed layers purge can fold away, and how (pure; the replica executes the steps).
 * Longhorn's rules: a removed leaf is deleted; a removed layer with exactly one child that is
 * not the head is coalesced into that child; a removed layer whose only child is the head is
 * pruned (its blocks the head overwrote are punched out) and stays; more children: kept.
 * Deleting a leaf can make its parent a leaf, so the rules repeat until nothing changes; the
 * prune behind the head comes last.
 */
export interface PlanLayer {
  name: string;
  parent: string | null;
  removed: boolean;
}

export type PurgeStep =
  | { kind: 'delete'; name: string }
  | { kind: 'coalesce'; name: string; child: string }
  | { kind: 'prune'; name: string; head: string };

export function planPurge(snapshots: readonly PlanLayer[], head: PlanLayer): PurgeStep[] {
  const live = new Map(snapshots.map((s) => [s.name, { ...s }]));
  const steps: PurgeStep[] = [];
  const childrenOf = (name: string): string[] => {
    const out: string[] = [];
    for (const s of live.values()) if (s.parent === name) out.push(s.name);
    if (head.parent === name) out.push(head.name);
    return out;
  };
  let changed = true;
  while (changed) {
    changed = false;
    for (const s of [...live.values()]) {
      if (!s.removed) continue;
      const children = childrenOf(s.name);
      if (children.length === 0) {
        steps.push({ kind: 'delete', name: s.name });
        live.delete(s.name);
        changed = true;
      } else if (children.length === 1 && children[0] !== head.name) {
        const child = live.get(children[0]!)!;
        steps.push({ kind: 'coalesce', name: s.name, child: child.name });
        child.parent = s.parent;
        live.delete(s.name);
        changed = true;
      }
    }
  }
  const behind = head.parent === null ? undefined : live.get(head.parent);
  if (behind?.removed && childrenOf(behind.name).length === 1) {
    steps.push({ kind: 'prune', name: behind.name, head: head.name });
  }
  return steps;
}
