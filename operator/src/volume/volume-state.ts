/**
 * One decision step of the Volume controller: `next(volume, observed) -> {status, actions}`.
 * Pure and deterministic (time comes in `observed.now`), so every rule is table-tested.
 *
 * The order is Longhorn's syncVolume: engine and replica health first (which may replenish),
 * then replica cleanup, then auto-salvage, then the attach/detach state machine. Each step sees
 * the changes of the steps before it.
 */

import { reconcileAttachDetach } from './attach-detach.js';
import { reconcileSalvage } from './auto-salvage.js';
import { replenish } from './replenishment.js';
import { cleanupReplicas } from './replica-cleanup.js';
import { reconcileReplicaHealth } from './replica-health.js';
import type { NextResult, Observed, VolumeView } from './volume-model.js';
import { VolumePass } from './volume-pass.js';

export function next(volume: VolumeView, observed: Observed): NextResult {
  const pass = new VolumePass(volume, observed);

  if (volume.deleting) {
    reconcileDeletion(pass);
    return pass.result();
  }

  if (pass.engine === undefined) {
    // A new volume: its engine and its first replicas (placed by the scheduler).
    pass.emit({ kind: 'createEngine' });
    if (pass.replicas.every((r) => r.deleting)) {
      for (let i = 0; i < volume.spec.numberOfReplicas; i++) {
        pass.emit({ kind: 'createReplica', hardNodeAffinity: '', rebuild: false });
      }
    }
    pass.status.state = 'creating';
    return pass.result();
  }
  if (pass.replicas.every((r) => r.deleting)) replenish(pass);

  reconcileReplicaHealth(pass);
  cleanupReplicas(pass);
  if (!reconcileSalvage(pass)) reconcileAttachDetach(pass);

  if (pass.status.robustness !== 'degraded') pass.status.lastDegradedAt = '';
  return pass.result();
}

/**
 * Deleting: stop the engine, delete it once stopped, then the replicas (their controller
 * removes the processes and the data), and drop the finalizer when nothing is left.
 */
function reconcileDeletion(pass: VolumePass): void {
  pass.status.state = 'deleting';
  const engine = pass.engine;
  if (engine !== undefined) {
    if (engine.desireState !== 'stopped' || engine.nodeID !== '') pass.emit({ kind: 'stopEngine' });
    if (engine.currentState === 'stopped' || engine.nodeDown) pass.emit({ kind: 'deleteEngine' });
    return;
  }
  const left = pass.replicas.filter((r) => !r.deleting);
  for (const r of left) pass.deleteReplica(r, 'the volume is being deleted');
  if (pass.replicas.length === 0) pass.emit({ kind: 'removeFinalizer' });
}
