/**
 * Robustness from what the engine reports (Longhorn's ReconcileEngineReplicaState):
 * - replicas the engine put in ERR, and replicas whose process is in error, are failed;
 * - a replica the engine reports RW is healthy (healthyAt is set the first time);
 * - RW count >= numberOfReplicas: healthy; fewer but some: degraded (lastDegradedAt); none:
 *   left to auto-salvage, which calls the volume faulted once no healthy replica remains;
 * - an engine in an unknown state makes the volume's robustness unknown.
 * A degraded volume replenishes; a healthy one with a replica to evict gets one more
 * (eviction.ts); a healthy best-effort volume without a replica next to its
 * engine gets one there.
 */

import { evictReplicas } from './eviction.js';
import { replenish } from './replenishment.js';
import type { VolumePass } from './volume-pass.js';

export function reconcileReplicaHealth(pass: VolumePass): void {
  const engine = pass.engine;
  if (engine === undefined) return;

  if (engine.currentState === 'unknown') {
    if (pass.status.robustness !== 'unknown') {
      pass.status.robustness = 'unknown';
      pass.event('Warning', 'Unknown', `volume ${pass.volume.name} robustness is unknown`);
    }
    return;
  }

  if (engine.currentState !== 'running') {
    // A replica that failed to start never reaches the engine's mode map.
    for (const r of pass.replicas) {
      if (r.failedAt === '' && r.currentState === 'error')
        pass.markFailed(r, 'the replica process is in error');
    }
    return;
  }

  const modes = engine.replicaModes;
  if (modes === undefined) return;

  let healthy = 0;
  for (const r of pass.replicas) {
    const mode = modes[r.name];
    if (mode === 'ERR') {
      pass.markFailed(r, 'the engine set the replica to ERR');
    } else if (mode === 'RW') {
      const first = r.healthyAt === '';
      // lastHealthyAt matters only to tell a replica that came back after failing (safe as the
      // last copy) from one that did not; writing it every pass would rewrite the CR each time.
      const cameBack = r.lastFailedAt !== '' && !(Date.parse(r.lastHealthyAt) > Date.parse(r.lastFailedAt));
      if (first || cameBack || r.lastHealthyAt === '') {
        if (first) {
          r.healthyAt = pass.now;
          r.rebuildRetryCount = 0;
        }
        r.lastHealthyAt = pass.now;
        pass.emit({ kind: 'markReplicaHealthy', replica: r.name, at: pass.now, first });
      }
      healthy++;
    }
  }
  for (const r of pass.replicas) {
    if (r.failedAt === '' && r.currentState === 'error')
      pass.markFailed(r, 'the replica process is in error');
  }

  if (healthy === 0) return;

  const { volume } = pass;
  const was = pass.status.robustness;
  if (healthy >= volume.spec.numberOfReplicas) {
    pass.status.robustness = 'healthy';
    if (was === 'degraded') pass.event('Normal', 'Healthy', `volume ${volume.name} became healthy`);
    evictReplicas(pass, healthy);
    const local = engine.nodeID;
    const hasLocal = pass.replicas.some((r) => r.nodeID === local && r.failedAt === '' && !r.deleting);
    if (
      pass.status.state === 'attached' &&
      !pass.status.frontendDisabled &&
      volume.spec.dataLocality === 'best-effort' &&
      local !== '' &&
      !hasLocal
    ) {
      replenish(pass, local);
    }
    return;
  }

  pass.status.robustness = 'degraded';
  if (was !== 'degraded') {
    pass.status.lastDegradedAt = pass.now;
    pass.event('Normal', 'Degraded', `volume ${volume.name} became degraded`);
  }
  // Rebuilding is not possible while the volume is being expanded.
  if (volume.spec.size === engine.currentSize) replenish(pass);
}
