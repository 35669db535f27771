/**
 * What an Engine CR's status says about its running process (pure): the engine service's
 * volume view becomes replicaModeMap, currentReplicaAddressMap, rebuildStatus (keyed by the
 * rebuilding replica's address, as Longhorn keys it), currentSize and endpoint; its snapshot
 * list becomes status.snapshots in Longhorn's shape (volume-head included); its clone job
 * becomes cloneStatus.
 */

import type { EngineStatus, RebuildStatus, SnapshotCloneStatus, SnapshotInfo } from '@longhorn-ts/api';
import type { SnapshotView, VolumeView } from '@longhorn-ts/dataplane/engine/engine-client';

export function runningEngineStatus(
  prev: EngineStatus | undefined,
  view: VolumeView,
  snapshots: readonly SnapshotView[] | undefined,
  facts: {
    node: string;
    ip: string;
    controlPort: number;
    instanceManagerName: string;
    salvageRequested: boolean;
  },
): EngineStatus {
  const replicaModeMap: Record<string, 'RW' | 'WO' | 'ERR'> = {};
  const currentReplicaAddressMap: Record<string, string> = {};
  const rebuildStatus: Record<string, RebuildStatus> = {};
  const source = view.replicas.find((r) => r.mode === 'RW')?.address ?? '';
  for (const r of view.replicas) {
    replicaModeMap[r.id] = r.mode;
    currentReplicaAddressMap[r.id] = r.address;
    if (r.rebuilding || r.mode === 'WO') {
      rebuildStatus[r.address] = {
        isRebuilding: true,
        progress: r.rebuildPercent,
        state: 'in_progress',
        error: r.error,
        fromReplicaAddress: source,
        fromReplicaAddressList: source === '' ? [] : [source],
      };
    }
  }
  return {
    ...prev,
    ownerID: facts.node,
    instanceManagerName: facts.instanceManagerName,
    currentState: 'running',
    started: true,
    ip: facts.ip,
    storageIP: facts.ip,
    port: facts.controlPort,
    endpoint: view.frontend,
    currentSize: String(view.size),
    replicaModeMap,
    currentReplicaAddressMap,
    rebuildStatus,
    cloneStatus: cloneStatusMap(view),
    ...(snapshots !== undefined && { snapshots: snapshotMap(snapshots), snapshotsError: '' }),
    // Executed once an engine started with --salvage runs; a later request needs a new start.
    salvageExecuted: facts.salvageRequested,
  };
}

const CLONE_STATES = { running: 'in_progress', done: 'complete', failed: 'error' } as const;

/**
 * The engine's clone job as Longhorn's Engine status.cloneStatus: one entry per replica it fills
 * (keyed by address, as rebuildStatus), progress in percent; empty when no clone ran.
 */
export function cloneStatusMap(view: VolumeView): Record<string, SnapshotCloneStatus> {
  const c = view.clone;
  if (c === undefined || !(c.state in CLONE_STATES)) return {};
  const status: SnapshotCloneStatus = {
    isCloning: c.state === 'running',
    error: c.error,
    progress:
      c.state === 'done' ? 100 : c.bytesTotal > 0 ? Math.floor((100 * c.bytesDone) / c.bytesTotal) : 0,
    state: CLONE_STATES[c.state as keyof typeof CLONE_STATES],
    fromReplicaAddress: c.fromAddress,
    snapshotName: c.snapshot,
  };
  const out: Record<string, SnapshotCloneStatus> = {};
  for (const r of view.replicas) if (r.mode !== 'ERR') out[r.address] = { ...status };
  return out;
}

export function stoppedEngineStatus(
  prev: EngineStatus | undefined,
  node: string,
  state: 'stopped' | 'error' | 'starting',
  error = '',
): EngineStatus {
  return {
    ...prev,
    ownerID: node,
    currentState: state,
    started: state === 'error' ? (prev?.started ?? false) : false,
    endpoint: '',
    ip: '',
    storageIP: '',
    port: 0,
    replicaModeMap: {},
    currentReplicaAddressMap: {},
    rebuildStatus: {},
    salvageExecuted: false,
    // Why the last start failed (Longhorn's InstanceCreation condition); the volume reads it.
    conditions:
      state === 'error' && error !== ''
        ? [{ type: 'InstanceCreation', status: 'False', reason: 'EngineStartFailed', message: error }]
        : state === 'starting'
          ? (prev?.conditions ?? [])
          : [],
  };
}

/** The engine refused to start because the replicas it can reach are not the current ones. */
export function engineNeedsSalvage(
  status: { currentState?: string; conditions?: { type: string; message?: string }[] } | undefined,
): boolean {
  if (status?.currentState !== 'error') return false;
  const c = status.conditions?.find((x) => x.type === 'InstanceCreation');
  return /salvage/i.test(c?.message ?? '');
}

/** Longhorn's status.snapshots: name -> {name, parent, children, removed, usercreated, created, size, labels}. */
export function snapshotMap(list: readonly SnapshotView[]): Record<string, SnapshotInfo> {
  const out: Record<string, SnapshotInfo> = {};
  for (const s of list) {
    const name = s.head ? 'volume-head' : s.name;
    const children: Record<string, boolean> = {};
    for (const c of s.children) children[headName(list, c)] = true;
    out[name] = {
      name,
      parent: s.parent,
      children,
      removed: s.removed,
      usercreated: s.userCreated,
      created: s.created,
      size: String(s.allocatedBytes),
      labels: s.labels ?? {},
    };
  }
  return out;
}

function headName(list: readonly SnapshotView[], name: string): string {
  return list.find((s) => s.name === name)?.head ? 'volume-head' : name;
}

/**
 * What to change in the running engine's replica set to match spec.replicaAddressMap: remove
 * the members it should not have (or has at another address), add at most one missing one
 * (one rebuild at a time), and only when nothing is rebuilding.
 */
export function membershipPlan(
  want: Readonly<Record<string, string>>,
  view: VolumeView,
): { remove: string[]; add?: { id: string; address: string } } {
  const remove: string[] = [];
  for (const r of view.replicas) {
    const addr = want[r.id];
    if (addr === undefined || addr !== r.address) remove.push(r.id);
  }
  const rebuilding = view.replicas.some((r) => (r.mode === 'WO' || r.rebuilding) && !remove.includes(r.id));
  if (rebuilding) return { remove };
  const present = new Set(view.replicas.filter((r) => !remove.includes(r.id)).map((r) => r.id));
  const missing = Object.keys(want)
    .sort()
    .find((id) => !present.has(id));
  return missing === undefined ? { remove } : { remove, add: { id: missing, address: want[missing]! } };
}
