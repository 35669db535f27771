/**
 * The actions of one `next` pass, folded into the writes that carry them out (pure): at most
 * one merge patch per Replica and one for the Engine, the creates, the deletes. Later actions
 * on the same field win, as they would if applied one by one.
 */

import { MAX_REBUILD_RETRIES } from '../scheduler/failed-replica.js';
import type { Action } from '../volume/volume-model.js';

type Patch = Record<string, unknown>;

export interface VolumeWrites {
  createEngine: boolean;
  deleteEngine: boolean;
  /** Merge patch of the Engine's spec. */
  engine?: Patch;
  /** Replica name -> merge patch of its spec. */
  replicas: Map<string, Patch>;
  createReplicas: Array<{ hardNodeAffinity: string; rebuild: boolean }>;
  deleteReplicas: Array<{ name: string; reason: string }>;
  removeFinalizer: boolean;
}

export function planWrites(
  actions: readonly Action[],
  currentEngineAddresses: Readonly<Record<string, string>>,
): VolumeWrites {
  const w: VolumeWrites = {
    createEngine: false,
    deleteEngine: false,
    replicas: new Map(),
    createReplicas: [],
    deleteReplicas: [],
    removeFinalizer: false,
  };
  const engine = (): Patch => {
    w.engine ??= {};
    return w.engine;
  };
  const addrMap = (): Record<string, string | null> => {
    const e = engine();
    e.replicaAddressMap ??= {};
    return e.replicaAddressMap as Record<string, string | null>;
  };
  const replica = (name: string): Patch => {
    let p = w.replicas.get(name);
    if (p === undefined) {
      p = {};
      w.replicas.set(name, p);
    }
    return p;
  };
  for (const a of actions) {
    switch (a.kind) {
      case 'createEngine':
        w.createEngine = true;
        break;
      case 'deleteEngine':
        w.deleteEngine = true;
        break;
      case 'startEngine': {
        const e = engine();
        e.nodeID = a.nodeID;
        e.desireState = 'running';
        e.disableFrontend = a.disableFrontend;
        const map: Record<string, string | null> = {};
        for (const name of Object.keys(currentEngineAddresses)) map[name] = null;
        Object.assign(map, a.replicaAddresses);
        e.replicaAddressMap = map;
        break;
      }
      case 'stopEngine': {
        const e = engine();
        e.nodeID = '';
        e.desireState = 'stopped';
        break;
      }
      case 'addReplicaToEngine':
        addrMap()[a.replica] = a.address;
        break;
      case 'removeReplicaFromEngine':
        addrMap()[a.replica] = null;
        break;
      case 'requestSalvage':
        engine().salvageRequested = true;
        break;
      case 'clearSalvageRequest':
        engine().salvageRequested = false;
        break;
      case 'createReplica':
        w.createReplicas.push({ hardNodeAffinity: a.hardNodeAffinity, rebuild: a.rebuild });
        break;
      case 'deleteReplica':
        w.deleteReplicas.push({ name: a.replica, reason: a.reason });
        break;
      case 'startReplica':
        replica(a.replica).desireState = 'running';
        break;
      case 'stopReplica':
        replica(a.replica).desireState = 'stopped';
        break;
      case 'markReplicaFailed': {
        const p = replica(a.replica);
        p.failedAt = a.at;
        p.lastFailedAt = a.at;
        if (a.unusable) p.rebuildRetryCount = MAX_REBUILD_RETRIES;
        break;
      }
      case 'markReplicaHealthy': {
        const p = replica(a.replica);
        if (a.first) {
          p.healthyAt = a.at;
          p.rebuildRetryCount = 0;
        }
        p.lastHealthyAt = a.at;
        break;
      }
      case 'reuseReplica': {
        const p = replica(a.replica);
        p.failedAt = '';
        p.healthyAt = '';
        p.rebuildRetryCount = a.rebuildRetryCount;
        break;
      }
      case 'salvageReplica':
        replica(a.replica).failedAt = '';
        break;
      case 'removeFinalizer':
        w.removeFinalizer = true;
        break;
    }
  }
  for (const d of w.deleteReplicas) w.replicas.delete(d.name);
  return w;
}
