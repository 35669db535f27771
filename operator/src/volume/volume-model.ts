/**
 * The plain shapes the volume state machine reads and writes. The Volume controller maps the
 * Volume, Engine, Replica and Node CRs from its caches onto these views, calls `next`, writes
 * the returned status with optimistic concurrency and carries out the actions (each one is a
 * small change to one CR's spec, or a create/delete).
 */

import type { VolumeRobustness, VolumeState } from './attachment-tickets.js';

export type { VolumeRobustness, VolumeState };

/** Longhorn's instance states (Engine and Replica status.currentState). */
export type InstanceState = 'stopped' | 'starting' | 'running' | 'stopping' | 'error' | 'unknown';
export type ReplicaMode = 'RW' | 'WO' | 'ERR';
export type DataLocality = 'disabled' | 'best-effort' | 'strict-local';

export interface VolumeView {
  name: string;
  /** metadata.deletionTimestamp is set. */
  deleting: boolean;
  spec: {
    /** The node the volume should be attached to ('' = detached), set by ticket arbitration. */
    nodeID: string;
    numberOfReplicas: number;
    /** Bytes. */
    size: number;
    /** Minutes after which a failed replica is deleted; 0 never. */
    staleReplicaTimeout: number;
    dataLocality: DataLocality;
    disableFrontend: boolean;
  };
  status: {
    /** '' for a volume that has never been reconciled. */
    state: VolumeState | '';
    robustness: VolumeRobustness;
    currentNodeID: string;
    lastDegradedAt: string;
    remountRequestedAt: string;
    lastAutoSalvagedAt: string;
    /** DR and restoring volumes are never auto-salvaged. */
    isStandby?: boolean;
    restoreRequired?: boolean;
  };
}

export interface EngineView {
  name: string;
  /** spec.nodeID: where the engine should run ('' = nowhere). */
  nodeID: string;
  desireState: 'running' | 'stopped';
  currentState: InstanceState;
  /** spec.replicaAddressMap: replica name -> host:port the engine should use. */
  replicaAddresses: Readonly<Record<string, string>>;
  /** status.replicaModeMap; undefined until the engine has reported. */
  replicaModes?: Readonly<Record<string, ReplicaMode>>;
  /** status.endpoint, e.g. the NBD URI; '' while there is none. */
  endpoint: string;
  /** status.currentSize in bytes. */
  currentSize: number;
  salvageRequested: boolean;
  salvageExecuted: boolean;
  /** The engine's node is down or deleted (from the Node cache). */
  nodeDown: boolean;
}

export interface ReplicaView {
  name: string;
  /** '' while unscheduled. */
  nodeID: string;
  diskID: string;
  hardNodeAffinity: string;
  desireState: 'running' | 'stopped';
  currentState: InstanceState;
  /** RFC 3339 timestamps, '' when unset (Longhorn's spec fields of the same names). */
  failedAt: string;
  lastFailedAt: string;
  healthyAt: string;
  lastHealthyAt: string;
  rebuildRetryCount: number;
  evictionRequested: boolean;
  /** metadata.deletionTimestamp is set. */
  deleting: boolean;
  /** status storage address host:port once running, '' before. */
  address: string;
  /** The replica's node is down or deleted. */
  nodeDown: boolean;
  /** Its disk is Ready and Schedulable (auto-salvage only brings such replicas back). */
  diskSchedulable: boolean;
  /** Its node and disk would take it back for a rebuild now (Longhorn's isFailedReplicaReusable). */
  reusable: boolean;
}

export interface VolumeSettings {
  /** auto-salvage */
  autoSalvage: boolean;
  /** replica-replenishment-wait-interval, seconds. */
  replicaReplenishmentWaitInterval: number;
  /** concurrent-replica-rebuild-per-node-limit; 0 disables rebuilds. */
  concurrentReplicaRebuildPerNodeLimit: number;
}

export const DEFAULT_VOLUME_SETTINGS: Readonly<VolumeSettings> = Object.freeze({
  autoSalvage: true,
  replicaReplenishmentWaitInterval: 600,
  concurrentReplicaRebuildPerNodeLimit: 5,
});

export interface Observed {
  /** Milliseconds since the epoch. */
  now: number;
  /** The volume's current engine, if one exists. */
  engine?: EngineView;
  replicas: readonly ReplicaView[];
  settings: VolumeSettings;
  /** Rebuilds in progress per node over all volumes, for the per-node limit. */
  rebuildsPerNode?: Readonly<Record<string, number>>;
}

/** The status fields `next` owns. */
export interface VolumeStatusOut {
  state: VolumeState;
  robustness: VolumeRobustness;
  currentNodeID: string;
  lastDegradedAt: string;
  remountRequestedAt: string;
  lastAutoSalvagedAt: string;
  frontendDisabled: boolean;
}

/**
 * What to change. Replica actions name the replica; the controller applies them to that
 * Replica's spec (failedAt also sets lastFailedAt, as in Longhorn).
 */
export type Action =
  | { kind: 'createEngine' }
  | { kind: 'deleteEngine' }
  /** spec.nodeID, replicaAddressMap and desireState running. */
  | {
      kind: 'startEngine';
      nodeID: string;
      replicaAddresses: Record<string, string>;
      disableFrontend: boolean;
    }
  /** spec.nodeID '' and desireState stopped. */
  | { kind: 'stopEngine' }
  /** Add to the running engine's replicaAddressMap: the engine rebuilds it. */
  | { kind: 'addReplicaToEngine'; replica: string; address: string }
  | { kind: 'removeReplicaFromEngine'; replica: string }
  | { kind: 'requestSalvage' }
  | { kind: 'clearSalvageRequest' }
  /** A new, unscheduled Replica CR; the controller places it with the scheduler. */
  | { kind: 'createReplica'; hardNodeAffinity: string; rebuild: boolean }
  | { kind: 'deleteReplica'; replica: string; reason: string }
  | { kind: 'startReplica'; replica: string }
  | { kind: 'stopReplica'; replica: string }
  /** failedAt = lastFailedAt = at; `unusable` also sets rebuildRetryCount to the maximum. */
  | { kind: 'markReplicaFailed'; replica: string; at: string; reason: string; unusable?: boolean }
  /** healthyAt (when `first`, also rebuildRetryCount 0) and lastHealthyAt = at. */
  | { kind: 'markReplicaHealthy'; replica: string; at: string; first: boolean }
  /** Clear failedAt and healthyAt so the failed replica's data is rebuilt in place. */
  | { kind: 'reuseReplica'; replica: string; rebuildRetryCount: number }
  /** Clear failedAt: auto-salvage brings the replica back as it is. */
  | { kind: 'salvageReplica'; replica: string }
  /** All dependents are gone: the Volume's finalizer can go. */
  | { kind: 'removeFinalizer' };

export interface VolumeEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface NextResult {
  status: VolumeStatusOut;
  actions: Action[];
  events: VolumeEvent[];
  /** Reconcile again after this long even if nothing changes (stale timeouts, waits). */
  requeueAfterMs?: number;
}
