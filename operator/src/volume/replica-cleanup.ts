/**
 * Which replicas go (Longhorn's cleanupReplicas):
 * - a failed replica after staleReplicaTimeout, or after too many failed rebuilds; never one
 *   that once held data while no replica is safe to be the last copy;
 * - an unscheduled replica once the volume has enough healthy ones (or one pinned to a node
 *   while data locality is off);
 * - when there are more healthy replicas than wanted: one being evicted, else (best-effort
 *   data locality) a remote one once a local one is healthy.
 */

import { MAX_REBUILD_RETRIES } from '../scheduler/failed-replica.js';
import type { ReplicaView } from './volume-model.js';
import { isHealthy, isSafeAsLastReplica, parseTime, type VolumePass } from './volume-pass.js';

export function cleanupReplicas(pass: VolumePass): void {
  cleanupFailed(pass);
  cleanupUnscheduled(pass);
  cleanupExtraHealthy(pass);
}

function cleanupFailed(pass: VolumePass): void {
  const safe = pass.replicas.filter(isSafeAsLastReplica).length;
  const timeoutMs = pass.volume.spec.staleReplicaTimeout * 60_000;
  for (const r of pass.replicas) {
    if (r.failedAt === '' || r.deleting) continue;
    // It once held data and nothing else is known good: it may be the last copy.
    if (r.lastHealthyAt !== '' && safe === 0) continue;
    if (r.rebuildRetryCount >= MAX_REBUILD_RETRIES) {
      pass.deleteReplica(r, 'failed to rebuild too many times');
      continue;
    }
    const failedAt = parseTime(r.failedAt);
    if (timeoutMs > 0 && failedAt !== undefined) {
      const due = failedAt + timeoutMs;
      if (pass.observed.now > due) pass.deleteReplica(r, 'failed too long ago to be useful during a rebuild');
      else pass.requeue(due - pass.observed.now + 1000);
    }
  }
}

function cleanupUnscheduled(pass: VolumePass): void {
  if (pass.replicas.some((r) => r.evictionRequested && !r.deleting)) return;
  const healthy = pass.replicas.filter((r) => isHealthy(r)).length;
  const { volume } = pass;
  for (const r of pass.replicas) {
    if (r.deleting || r.healthyAt !== '' || r.nodeID !== '') continue;
    const pinnedWithoutLocality = volume.spec.dataLocality === 'disabled' && r.hardNodeAffinity !== '';
    const enough =
      healthy >= volume.spec.numberOfReplicas && r.hardNodeAffinity !== pass.status.currentNodeID;
    if (pinnedWithoutLocality || enough) pass.deleteReplica(r, 'failed to schedule and no longer needed');
  }
}

function cleanupExtraHealthy(pass: VolumePass): void {
  const healthy = pass.replicas.filter((r) => isHealthy(r));
  if (healthy.length <= pass.volume.spec.numberOfReplicas) return;

  const evicting = healthy.find((r) => r.evictionRequested);
  if (evicting !== undefined) {
    pass.deleteReplica(evicting, 'eviction requested and enough healthy replicas remain');
    return;
  }

  const local = pass.engine?.nodeID ?? '';
  if (pass.volume.spec.dataLocality !== 'best-effort' || pass.status.state !== 'attached' || local === '')
    return;
  if (!healthy.some((r) => r.nodeID === local)) return;
  const remote = healthy.filter((r) => r.nodeID !== local);
  const victim = preferredForDeletion(remote, healthy);
  if (victim !== undefined)
    pass.deleteReplica(victim, 'a local replica is healthy (best-effort data locality)');
}

/** Of the candidates, one that shares a disk, else a node, with another healthy replica; else the first. */
function preferredForDeletion(
  candidates: readonly ReplicaView[],
  all: readonly ReplicaView[],
): ReplicaView | undefined {
  const sharing = (same: (a: ReplicaView, b: ReplicaView) => boolean) =>
    candidates.find((c) => all.some((o) => o !== c && same(o, c)));
  return (
    sharing((a, b) => a.nodeID === b.nodeID && a.diskID === b.diskID) ??
    sharing((a, b) => a.nodeID === b.nodeID) ??
    candidates[0]
  );
}
