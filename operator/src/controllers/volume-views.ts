/**
 * The mapping from CRs (as the caches hold them) onto the plain views the pure volume logic
 * and the replica scheduler read. Pure; the Volume controller supplies liveness and settings.
 */

import type { Engine, Node, Replica, Volume, VolumeAttachment } from '@longhorn-ts/api';
import type { SchedNode, SchedReplica, SchedVolume } from '../scheduler/replica-scheduler.js';
import type { AttachmentTicket, AttachVolume } from '../volume/attachment-tickets.js';
import type { EngineView, InstanceState, ReplicaView, VolumeView } from '../volume/volume-model.js';

const SIZE_ALIGNMENT = 4096;

/** What is wrong with a volume's spec that the operator cannot work with, or undefined. */
export function volumeSpecProblem(v: Volume): string | undefined {
  const raw = v.spec.size ?? '';
  if (!/^[0-9]+$/.test(raw)) return `spec.size ${JSON.stringify(raw)} is not a number of bytes`;
  const size = Number(raw);
  if (!Number.isSafeInteger(size) || size <= 0) return `spec.size ${raw} must be a positive number of bytes`;
  if (size % SIZE_ALIGNMENT !== 0) return `spec.size ${raw} is not a multiple of ${SIZE_ALIGNMENT} bytes`;
  const n = v.spec.numberOfReplicas;
  if (n !== undefined && (!Number.isInteger(n) || n < 1 || n > 20))
    return `spec.numberOfReplicas ${n} must be from 1 to 20`;
  if (v.spec.accessMode === 'rwx' && !v.spec.migratable)
    return 'accessMode rwx needs a share manager, which longhorn-ts does not have yet';
  return undefined;
}

export function toVolumeView(v: Volume, defaults: { replicas: number }): VolumeView {
  const s = v.status ?? {};
  return {
    name: v.metadata.name,
    deleting: v.metadata.deletionTimestamp !== undefined,
    spec: {
      nodeID: v.spec.nodeID ?? '',
      numberOfReplicas: v.spec.numberOfReplicas ?? defaults.replicas,
      size: Number(v.spec.size ?? '0'),
      staleReplicaTimeout: v.spec.staleReplicaTimeout ?? 30,
      dataLocality: v.spec.dataLocality ?? 'disabled',
      disableFrontend: v.spec.disableFrontend ?? false,
    },
    status: {
      state: s.state ?? '',
      robustness: s.robustness === undefined || s.robustness === '' ? 'unknown' : s.robustness,
      currentNodeID: s.currentNodeID ?? '',
      lastDegradedAt: s.lastDegradedAt ?? '',
      remountRequestedAt: s.remountRequestedAt ?? '',
      lastAutoSalvagedAt: s.lastAutoSalvagedAt ?? '',
      isStandby: s.isStandby ?? false,
      restoreRequired: s.restoreRequired ?? false,
    },
  };
}

function instanceState(s: string | undefined): InstanceState {
  switch (s) {
    case 'running':
    case 'starting':
    case 'stopping':
    case 'error':
    case 'unknown':
    case 'stopped':
      return s;
    default:
      // Not reported yet (''), suspended, terminated: nothing serves.
      return 'stopped';
  }
}

export function toEngineView(e: Engine, nodeDown: boolean): EngineView {
  const s = e.status ?? {};
  const modes = s.replicaModeMap;
  return {
    name: e.metadata.name,
    nodeID: e.spec.nodeID ?? '',
    desireState: e.spec.desireState === 'running' ? 'running' : 'stopped',
    currentState: instanceState(s.currentState),
    replicaAddresses: e.spec.replicaAddressMap ?? {},
    ...(s.currentState === 'running' && modes !== undefined && modes !== null && { replicaModes: modes }),
    endpoint: s.endpoint ?? '',
    currentSize: Number(s.currentSize ?? '0'),
    salvageRequested: e.spec.salvageRequested ?? false,
    salvageExecuted: s.salvageExecuted ?? false,
    nodeDown,
  };
}

export interface ReplicaNodeFacts {
  nodeDown: boolean;
  diskSchedulable: boolean;
  reusable: boolean;
}

export function toReplicaView(r: Replica, facts: ReplicaNodeFacts): ReplicaView {
  const s = r.status ?? {};
  const running = s.currentState === 'running';
  const ip = s.storageIP || s.ip || '';
  return {
    name: r.metadata.name,
    nodeID: r.spec.nodeID ?? '',
    diskID: r.spec.diskID ?? '',
    hardNodeAffinity: r.spec.hardNodeAffinity ?? '',
    desireState: r.spec.desireState === 'running' ? 'running' : 'stopped',
    currentState: instanceState(s.currentState),
    failedAt: r.spec.failedAt ?? '',
    lastFailedAt: r.spec.lastFailedAt ?? '',
    healthyAt: r.spec.healthyAt ?? '',
    lastHealthyAt: r.spec.lastHealthyAt ?? '',
    rebuildRetryCount: r.spec.rebuildRetryCount ?? 0,
    evictionRequested: r.spec.evictionRequested ?? false,
    deleting: r.metadata.deletionTimestamp !== undefined,
    address: running && ip !== '' && (s.port ?? 0) > 0 ? `${ip}:${s.port}` : '',
    nodeDown: facts.nodeDown,
    diskSchedulable: facts.diskSchedulable,
    reusable: facts.reusable,
  };
}

function conditionTrue(conditions: { type: string; status: string }[] | undefined, type: string): boolean {
  return conditions?.find((c) => c.type === type)?.status === 'True';
}

/** Node facts for one replica: its node is down, its disk is schedulable, it could be rebuilt there. */
export function replicaNodeFacts(r: Replica, node: Node | undefined, live: boolean): ReplicaNodeFacts {
  const nodeID = r.spec.nodeID ?? '';
  if (nodeID === '') return { nodeDown: false, diskSchedulable: false, reusable: false };
  const nodeDown = node === undefined || !live || !conditionTrue(node.status?.conditions, 'Ready');
  let diskSchedulable = false;
  let diskAllows = false;
  for (const [name, ds] of Object.entries(node?.status?.diskStatus ?? {})) {
    if (ds.diskUUID !== r.spec.diskID) continue;
    diskSchedulable = conditionTrue(ds.conditions, 'Ready') && conditionTrue(ds.conditions, 'Schedulable');
    const spec = node?.spec.disks?.[name];
    diskAllows = spec?.allowScheduling !== false && spec?.evictionRequested !== true;
  }
  const reusable =
    !nodeDown &&
    diskSchedulable &&
    diskAllows &&
    node?.spec.allowScheduling !== false &&
    !(node?.spec.evictionRequested ?? false);
  return { nodeDown, diskSchedulable, reusable };
}

export function toSchedNode(n: Node, live: boolean): SchedNode {
  const disks = Object.entries(n.spec.disks ?? {}).flatMap(([name, d]) => {
    const ds = n.status?.diskStatus?.[name];
    if (ds === undefined || !ds.diskUUID) return [];
    return [
      {
        id: ds.diskUUID,
        name,
        path: d.path ?? '',
        tags: d.tags ?? [],
        allowScheduling: d.allowScheduling !== false,
        evictionRequested: d.evictionRequested === true,
        schedulable: conditionTrue(ds.conditions, 'Schedulable'),
        storageMaximum: ds.storageMaximum ?? 0,
        storageAvailable: ds.storageAvailable ?? 0,
        storageReserved: d.storageReserved ?? 0,
        storageScheduled: ds.storageScheduled ?? 0,
      },
    ];
  });
  return {
    name: n.metadata.name,
    zone: n.status?.zone ?? '',
    region: n.status?.region ?? '',
    tags: n.spec.tags ?? [],
    ready: live && conditionTrue(n.status?.conditions, 'Ready'),
    schedulable: conditionTrue(n.status?.conditions, 'Schedulable'),
    allowScheduling: n.spec.allowScheduling !== false,
    disks,
  };
}

export function toSchedReplica(r: Replica): SchedReplica {
  return {
    name: r.metadata.name,
    nodeID: r.spec.nodeID ?? '',
    diskID: r.spec.diskID ?? '',
    failedAt: r.spec.failedAt ?? '',
    rebuildRetryCount: r.spec.rebuildRetryCount ?? 0,
    evictionRequested: r.spec.evictionRequested ?? false,
    deleting: r.metadata.deletionTimestamp !== undefined,
  };
}

export function toSchedVolume(v: Volume, defaults: { replicas: number }): SchedVolume {
  return {
    name: v.metadata.name,
    size: Number(v.spec.size ?? '0'),
    actualSize: v.status?.actualSize ?? 0,
    numberOfReplicas: v.spec.numberOfReplicas ?? defaults.replicas,
    nodeSelector: v.spec.nodeSelector ?? [],
    diskSelector: v.spec.diskSelector ?? [],
    topology: v.spec.topologyRequirement ?? [],
    replicaSoftAntiAffinity: v.spec.replicaSoftAntiAffinity ?? 'ignored',
    replicaZoneSoftAntiAffinity: v.spec.replicaZoneSoftAntiAffinity ?? 'ignored',
    replicaDiskSoftAntiAffinity: v.spec.replicaDiskSoftAntiAffinity ?? 'ignored',
  };
}

export function toAttachVolume(
  v: Volume,
  status?: { state: string; currentNodeID: string; robustness: string },
): AttachVolume {
  const s = status ?? v.status ?? {};
  const state = (
    s.state === '' || s.state === undefined ? 'creating' : s.state
  ) as AttachVolume['status']['state'];
  const robustness = (
    s.robustness === '' || s.robustness === undefined ? 'unknown' : s.robustness
  ) as AttachVolume['status']['robustness'];
  return {
    name: v.metadata.name,
    spec: {
      nodeID: v.spec.nodeID ?? '',
      disableFrontend: v.spec.disableFrontend ?? false,
      lastAttachedBy: v.spec.lastAttachedBy ?? '',
      accessMode: v.spec.accessMode ?? 'rwo',
      migratable: v.spec.migratable ?? false,
      migrationNodeID: v.spec.migrationNodeID ?? '',
    },
    status: {
      state,
      currentNodeID: s.currentNodeID ?? '',
      robustness,
      currentMigrationNodeID: v.status?.currentMigrationNodeID ?? '',
    },
  };
}

/** The tickets in the shape arbitration reads (missing fields defaulted). */
export function ticketsOf(va: VolumeAttachment | undefined): Record<string, AttachmentTicket> {
  const out: Record<string, AttachmentTicket> = {};
  for (const [id, t] of Object.entries(va?.spec.attachmentTickets ?? {})) {
    out[id] = {
      id: t.id ?? id,
      type: t.type ?? '',
      nodeID: t.nodeID ?? '',
      parameters: t.parameters ?? {},
      generation: t.generation ?? 0,
    };
  }
  return out;
}

/** Rebuilds running per node (WO replicas in every engine), for the per-node limit. */
export function rebuildsPerNode(
  engines: readonly Engine[],
  replicas: readonly Replica[],
): Record<string, number> {
  const nodeOf = new Map(replicas.map((r) => [r.metadata.name, r.spec.nodeID ?? '']));
  const out: Record<string, number> = {};
  for (const e of engines) {
    for (const [name, mode] of Object.entries(e.status?.replicaModeMap ?? {})) {
      if (mode !== 'WO') continue;
      const node = nodeOf.get(name);
      if (node) out[node] = (out[node] ?? 0) + 1;
    }
  }
  return out;
}
