/**
 * One reconcile pass over a volume. Longhorn's volume controller mutates the Replica and Engine
 * objects it holds and later steps see those mutations; a pass does the same on private
 * copies, and records each mutation as an action so the controller can apply it.
 */

import { rfc3339 } from '../conditions.js';
import { MAX_REBUILD_RETRIES } from '../scheduler/failed-replica.js';
import type {
  Action,
  EngineView,
  NextResult,
  Observed,
  ReplicaView,
  VolumeEvent,
  VolumeStatusOut,
  VolumeView,
} from './volume-model.js';

export class VolumePass {
  readonly volume: VolumeView;
  readonly observed: Observed;
  readonly now: string;
  readonly status: VolumeStatusOut;
  readonly replicas: ReplicaView[];
  engine: EngineView | undefined;
  private readonly actions: Action[] = [];
  private readonly events: VolumeEvent[] = [];
  private requeueAfterMs: number | undefined;

  constructor(volume: VolumeView, observed: Observed) {
    this.volume = volume;
    this.observed = observed;
    this.now = rfc3339(observed.now);
    this.replicas = observed.replicas.map((r) => ({ ...r })).sort((a, b) => (a.name < b.name ? -1 : 1));
    this.engine =
      observed.engine === undefined
        ? undefined
        : { ...observed.engine, replicaAddresses: { ...observed.engine.replicaAddresses } };
    const s = volume.status;
    this.status = {
      state: s.state === '' ? 'creating' : s.state,
      robustness: s.robustness,
      currentNodeID: s.currentNodeID,
      lastDegradedAt: s.lastDegradedAt,
      remountRequestedAt: s.remountRequestedAt,
      lastAutoSalvagedAt: s.lastAutoSalvagedAt,
      frontendDisabled: volume.spec.disableFrontend,
    };
  }

  emit(action: Action): void {
    this.actions.push(action);
  }

  event(type: VolumeEvent['type'], reason: string, message: string): void {
    this.events.push({ type, reason, message });
  }

  /** Ask to be called again within `ms` (the earliest request wins). */
  requeue(ms: number): void {
    const at = Math.max(0, Math.ceil(ms));
    if (this.requeueAfterMs === undefined || at < this.requeueAfterMs) this.requeueAfterMs = at;
  }

  markFailed(r: ReplicaView, reason: string, unusable = false): void {
    if (r.failedAt === '') {
      r.failedAt = this.now;
      r.lastFailedAt = this.now;
      if (unusable) r.rebuildRetryCount = MAX_REBUILD_RETRIES;
      this.emit({
        kind: 'markReplicaFailed',
        replica: r.name,
        at: this.now,
        reason,
        ...(unusable && { unusable }),
      });
    }
    this.stopReplica(r);
  }

  stopReplica(r: ReplicaView): void {
    if (r.desireState === 'stopped') return;
    r.desireState = 'stopped';
    this.emit({ kind: 'stopReplica', replica: r.name });
  }

  startReplica(r: ReplicaView): void {
    if (r.desireState === 'running') return;
    r.desireState = 'running';
    this.emit({ kind: 'startReplica', replica: r.name });
  }

  deleteReplica(r: ReplicaView, reason: string): void {
    if (r.deleting) return;
    r.deleting = true;
    this.emit({ kind: 'deleteReplica', replica: r.name, reason });
  }

  result(): NextResult {
    return {
      status: { ...this.status },
      actions: [...this.actions],
      events: [...this.events],
      ...(this.requeueAfterMs !== undefined && { requeueAfterMs: this.requeueAfterMs }),
    };
  }
}

/** Longhorn's isHealthyAndActiveReplica (every replica we model is active). */
export function isHealthy(r: ReplicaView, includeDeleting = false): boolean {
  return r.failedAt === '' && r.healthyAt !== '' && (includeDeleting || !r.deleting);
}

/**
 * Healthy, and if it ever failed it has been RW since. A replica that only looks healthy
 * because auto-salvage cleared its failure may hold bad data: while no replica is safe, no
 * failed replica that once held data is deleted.
 */
export function isSafeAsLastReplica(r: ReplicaView): boolean {
  if (!isHealthy(r)) return false;
  if (r.lastFailedAt === '') return true;
  return Date.parse(r.lastHealthyAt) > Date.parse(r.lastFailedAt);
}

export function parseTime(ts: string): number | undefined {
  if (ts === '') return undefined;
  const t = Date.parse(ts);
  return Number.isNaN(t) ? undefined : t;
}
