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
  // Deletions first (they free space without copying and may turn a fork point into a
  // single-child layer), coalesces only when no removed leaf is left, one step at a time.
  for (;;) {
    const removed = [...live.values()].filter((s) => s.removed);
    const leaf = removed.find((s) => childrenOf(s.name).length === 0);
    if (leaf) {
      steps.push({ kind: 'delete', name: leaf.name });
      live.delete(leaf.name);
      continue;
    }
    const fold = removed.find((s) => {
      const c = childrenOf(s.name);
      return c.length === 1 && c[0] !== head.name;
    });
    if (!fold) break;
    const child = live.get(childrenOf(fold.name)[0]!)!;
    steps.push({ kind: 'coalesce', name: fold.name, child: child.name });
    child.parent = fold.parent;
    live.delete(fold.name);
  }
  const behind = head.parent === null ? undefined : live.get(head.parent);
  if (behind?.removed && childrenOf(behind.name).length === 1) {
    steps.push({ kind: 'prune', name: behind.name, head: head.name });
  }
  return steps;
}
