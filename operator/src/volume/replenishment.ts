/**
 * Bringing a degraded volume back to its replica count (Longhorn's replenishReplicas):
 * - only while attached (a new volume's first replicas excepted), not during an expansion,
 *   and not while rebuilds are switched off (concurrent-replica-rebuild-per-node-limit 0);
 * - only once the engine reports every connected replica, and none is being rebuilt: one
 *   rebuild per volume at a time;
 * - a failed replica whose node and disk are back is reused first: only the difference has to
 *   be copied;
 * - a brand-new replica is made at once when none could come back; otherwise after
 *   replica-replenishment-wait-interval since the volume became degraded.
 */

import { isPotentiallyReusable, latestFailed } from '../scheduler/failed-replica.js';
import type { EngineView } from './volume-model.js';
import { parseTime, type VolumePass } from './volume-pass.js';

/** Replicas the engine is rebuilding (WO) or has been given and not yet reported. */
export function rebuildingCount(engine: EngineView): number {
  const modes = engine.replicaModes ?? {};
  let n = 0;
  for (const mode of Object.values(modes)) if (mode === 'WO') n++;
  for (const name of Object.keys(engine.replicaAddresses)) if (!(name in modes)) n++;
  return n;
}

/** The engine knows exactly the scheduled, unfailed replicas and none of them is in ERR. */
export function engineInSync(pass: VolumePass, engine: EngineView): boolean {
  const connected = pass.replicas.filter((r) => r.failedAt === '' && r.nodeID !== '' && !r.deleting).length;
  const spec = Object.keys(engine.replicaAddresses);
  const modes = engine.replicaModes ?? {};
  if (spec.length !== connected || spec.length !== Object.keys(modes).length) return false;
  return spec.every((name) => modes[name] !== undefined && modes[name] !== 'ERR');
}

/** Replicas that count toward numberOfReplicas. */
export function usableCount(pass: VolumePass): number {
  const v = pass.volume;
  return pass.replicas.filter((r) => {
    if (r.deleting || r.failedAt !== '' || r.evictionRequested) return false;
    // A best-effort local replica that could not be placed does not count.
    const stuckLocal =
      v.spec.dataLocality === 'best-effort' &&
      r.healthyAt === '' &&
      r.nodeID === '' &&
      pass.status.currentNodeID !== '' &&
      r.hardNodeAffinity === pass.status.currentNodeID;
    return !stuckLocal;
  }).length;
}

/**
 * Add replicas as needed. `hardNodeAffinity` asks for one replica on that node (best-effort
 * data locality) even when the count is met.
 */
export function replenish(pass: VolumePass, hardNodeAffinity = ''): void {
  const { volume, observed } = pass;
  const engine = pass.engine;
  const live = pass.replicas.filter((r) => !r.deleting);
  const newVolume = live.length === 0;

  if (!newVolume && observed.settings.concurrentReplicaRebuildPerNodeLimit === 0) return;
  if (!newVolume && pass.status.state !== 'attached') return;
  if (engine === undefined) return;
  if (!newVolume && (!engineInSync(pass, engine) || rebuildingCount(engine) > 0)) return;

  let count = Math.max(0, volume.spec.numberOfReplicas - usableCount(pass));
  if ((!newVolume && count > 0) || hardNodeAffinity !== '') count = 1;

  for (let i = 0; i < count; i++) {
    const candidates = live.filter(
      (r) =>
        r.failedAt !== '' &&
        isPotentiallyReusable(r) &&
        r.reusable &&
        (hardNodeAffinity === '' || r.nodeID === hardNodeAffinity),
    );
    // Reuse backs off per replica (as Longhorn's reuse back-off): a replica server that is still
    // coming back must not burn every retry within a second and get the replica deleted.
    const reusable = candidates.filter((r) => {
      const wait = reuseWaitMs(r, observed.now);
      if (wait > 0) pass.requeue(wait);
      return wait === 0;
    });
    if (reusable.length === 0 && candidates.length > 0) continue;
    const reuse = latestFailed(reusable);
    if (reuse !== undefined) {
      reuse.failedAt = '';
      reuse.healthyAt = '';
      reuse.rebuildRetryCount += 1;
      pass.emit({ kind: 'reuseReplica', replica: reuse.name, rebuildRetryCount: reuse.rebuildRetryCount });
      continue;
    }
    const wait = waitBeforeNewReplica(pass, hardNodeAffinity);
    if (wait > 0) {
      pass.requeue(wait);
      continue;
    }
    pass.emit({ kind: 'createReplica', hardNodeAffinity, rebuild: !newVolume });
  }
}

/**
 * Milliseconds to wait before making a brand-new replica instead of waiting for a failed one
 * to come back (Longhorn's RequireNewReplica); 0 means now.
 */
export function waitBeforeNewReplica(pass: VolumePass, hardNodeAffinity: string): number {
  if (pass.status.robustness !== 'degraded') return 0;
  if (hardNodeAffinity !== '') return 0;
  if (!pass.replicas.some((r) => !r.deleting && isPotentiallyReusable(r))) return 0;
  const degradedAt = parseTime(pass.status.lastDegradedAt);
  if (degradedAt === undefined) return 0;
  const due = degradedAt + pass.observed.settings.replicaReplenishmentWaitInterval * 1000;
  // Longhorn adds a second against clock skew before it looks again.
  return pass.observed.now > due ? 0 : due - pass.observed.now + 1000;
}

/** Back-off before a failed replica is reused again: 2 s, doubling per failed rebuild, at most 1 min. */
export const REUSE_BACKOFF_MS = 2000;
const REUSE_BACKOFF_MAX_MS = 60_000;

/** Milliseconds until `r` may be reused (0: now), counted from when it last failed. */
export function reuseWaitMs(r: { failedAt: string; rebuildRetryCount: number }, now: number): number {
  const failedAt = parseTime(r.failedAt);
  if (failedAt === undefined) return 0;
  const backoff = Math.min(REUSE_BACKOFF_MAX_MS, REUSE_BACKOFF_MS * 2 ** r.rebuildRetryCount);
  return Math.max(0, failedAt + backoff - now);
}
