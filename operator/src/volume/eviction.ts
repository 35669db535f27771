/**
 * Replica eviction (Longhorn's EvictReplicas): a healthy volume with a replica whose node or
 * disk asked for eviction (Replica spec.evictionRequested, set by the node controller) gets one
 * more replica, scheduled elsewhere and rebuilt; once that one is RW the volume has more
 * healthy replicas than it wants and cleanup deletes the evicted one (replica-cleanup.ts).
 * One new replica at a time: none is made while another is still being built.
 */

import { replenish } from './replenishment.js';
import type { ReplicaMode } from './volume-model.js';
import type { VolumePass } from './volume-pass.js';

export function evictReplicas(pass: VolumePass, healthyCount: number): void {
  const { volume } = pass;
  // A strict-local volume keeps its one local replica: there is nowhere else for it to go.
  if (volume.spec.dataLocality === 'strict-local') return;
  const modes: Readonly<Record<string, ReplicaMode>> = pass.engine?.replicaModes ?? {};
  let healthyNonEvicting = healthyCount;
  for (const r of pass.replicas) {
    if (r.deleting) continue;
    if (r.evictionRequested && modes[r.name] === 'RW') healthyNonEvicting--;
    if (r.healthyAt === '' && r.failedAt === '') return; // a new replica is on its way
  }
  if (healthyNonEvicting >= volume.spec.numberOfReplicas) return;
  replenish(pass);
}
