/**
 * Which replicas of a node are to be evicted (Longhorn's syncReplicaEvictionRequested in its
 * node controller): a replica on a node with spec.evictionRequested, or on a disk with
 * evictionRequested, gets Replica spec.evictionRequested true; cancelling the request sets it
 * back to false. The volume controller does the moving (volume/eviction.ts). Longhorn's
 * node-drain policies also set it; the local system has no drains, so only requests count.
 */

import type { Node, Replica } from '@longhorn-ts/api';
import type { Logger } from 'pino';
import { KINDS } from '../k8s/kinds.js';
import type { ControllerContext } from './context.js';

/** Should this replica on `node` be evicted (pure)? */
export function shouldEvictReplica(node: Node, replica: Replica): boolean {
  if (node.spec.evictionRequested === true) return true;
  const diskID = replica.spec.diskID ?? '';
  for (const [name, disk] of Object.entries(node.spec.disks ?? {})) {
    if (node.status?.diskStatus?.[name]?.diskUUID === diskID && diskID !== '') {
      return disk.evictionRequested === true;
    }
  }
  return false;
}

/** Replicas of `node` whose evictionRequested differs from what it should be, with the new value. */
export function evictionChanges(node: Node, replicas: readonly Replica[]): Array<[Replica, boolean]> {
  const out: Array<[Replica, boolean]> = [];
  for (const r of replicas) {
    if (r.spec.nodeID !== node.metadata.name || r.metadata.deletionTimestamp !== undefined) continue;
    const want = shouldEvictReplica(node, r);
    if ((r.spec.evictionRequested ?? false) !== want) out.push([r, want]);
  }
  return out;
}

export async function syncReplicaEvictionRequested(
  ctx: ControllerContext,
  node: Node,
  log: Logger,
): Promise<void> {
  for (const [r, want] of evictionChanges(node, ctx.caches.replicas.list(ctx.id.namespace))) {
    await ctx.client.patch(KINDS.replica, r.metadata.name, { spec: { evictionRequested: want } });
    log.info(
      { replica: r.metadata.name, volume: r.spec.volumeName ?? '', disk: r.spec.diskID ?? '' },
      want ? 'replica eviction requested' : 'replica eviction cancelled',
    );
    ctx.events.record(
      { ...r, apiVersion: r.apiVersion ?? 'longhorn.io/v1beta2', kind: 'Replica' },
      'Normal',
      want ? 'EvictionRequested' : 'EvictionCancelled',
      `${want ? 'Requesting' : 'Cancelling'} replica ${r.metadata.name} eviction from node ${node.metadata.name} and disk ${r.spec.diskID ?? ''}`,
    );
  }
}
