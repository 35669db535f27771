/**
 * Node and disk eviction (pure): the Node CR patch, and which replicas are still there. Longhorn
 * (and our webhook) take eviction only with scheduling off, so a request turns scheduling off in
 * the same patch; a cancellation leaves scheduling as it is.
 */
import type { Node, Replica } from '@longhorn-ts/api';

export function evictionPatch(disk: string | undefined, cancel: boolean): object {
  const fields = cancel ? { evictionRequested: false } : { evictionRequested: true, allowScheduling: false };
  return disk === undefined ? { spec: fields } : { spec: { disks: { [disk]: fields } } };
}

/** The disk's UUID, which Replica spec.diskID holds. */
export function diskUUIDOf(node: Node, disk: string): string {
  return node.status?.diskStatus?.[disk]?.diskUUID ?? '';
}

/** Replicas still on the node (or on its disk): by the Replica CRs and the disks' scheduledReplica. */
export function replicasLeft(node: Node, replicas: readonly Replica[], disk?: string): string[] {
  const name = node.metadata.name;
  const uuid = disk === undefined ? undefined : diskUUIDOf(node, disk);
  const left = new Set<string>();
  for (const r of replicas) {
    if (r.spec.nodeID !== name) continue;
    if (uuid !== undefined && r.spec.diskID !== uuid) continue;
    left.add(r.metadata.name);
  }
  for (const [d, st] of Object.entries(node.status?.diskStatus ?? {})) {
    if (disk !== undefined && d !== disk) continue;
    for (const r of Object.keys(st.scheduledReplica ?? {})) left.add(r);
  }
  return [...left].sort();
}

/** Volumes with replicas still there that will not move by themselves: detached ones. */
export function stuckVolumes(
  left: readonly string[],
  replicas: readonly Replica[],
  attached: ReadonlySet<string>,
): string[] {
  const vols = new Set<string>();
  for (const r of replicas) {
    const v = r.spec.volumeName ?? '';
    if (left.includes(r.metadata.name) && v !== '' && !attached.has(v)) vols.add(v);
  }
  return [...vols].sort();
}
