/**
 * The status of a Node CR (pure): disk space from the file system and from the replicas
 * scheduled there, Longhorn's conditions (Ready, Schedulable per node and per disk), zone and
 * region. The controller gathers the facts (statfs, the disk's UUID file, the caches).
 */

import type { Condition, DiskSpec, DiskStatus, Node, NodeStatus, Replica } from '@longhorn-ts/api';
import { type ConditionStatus, setCondition } from '../conditions.js';
import { percentOf } from '../scheduler/disk-fit.js';
import { canonicalJson } from './same-json.js';

export interface DiskFacts {
  /** From the disk's longhorn-disk.cfg; '' when it could not be read or made. */
  uuid: string;
  /** undefined when statfs failed; `error` says why. */
  space?: { maximum: number; available: number };
  error?: string;
}

export interface NodeFacts {
  /** This node's operator is up (liveness). */
  live: boolean;
  /** The Kubernetes node is cordoned (spec.unschedulable). */
  cordoned: boolean;
  /** The Kubernetes Node object is gone. */
  k8sNodeGone?: boolean;
  zone: string;
  region: string;
  /** By disk name (the key in spec.disks). */
  disks: Readonly<Record<string, DiskFacts>>;
  /** Every Replica CR (those on this node are counted). */
  replicas: readonly Replica[];
  minimalAvailablePercentage: number;
  now: string;
}

function cond(
  list: Condition[] | undefined,
  type: string,
  status: ConditionStatus,
  reason: string,
  message: string,
  now: string,
): Condition[] {
  const prior = (list ?? []).map((c) => ({
    ...c,
    reason: c.reason ?? '',
    message: c.message ?? '',
    lastTransitionTime: c.lastTransitionTime ?? '',
  }));
  return setCondition(prior, type, status, reason, message, now) as Condition[];
}

export function diskStatus(
  node: string,
  name: string,
  spec: DiskSpec,
  facts: DiskFacts | undefined,
  previous: DiskStatus | undefined,
  replicas: readonly Replica[],
  minimalAvailablePercentage: number,
  now: string,
): DiskStatus {
  const uuid = facts?.uuid || previous?.diskUUID || '';
  const scheduledReplica: Record<string, number> = {};
  let scheduled = 0;
  for (const r of replicas) {
    if (r.spec.nodeID !== node || uuid === '' || r.spec.diskID !== uuid) continue;
    const size = Number(r.spec.volumeSize ?? '0') || 0;
    scheduledReplica[r.metadata.name] = size;
    scheduled += size;
  }
  let conditions = previous?.conditions;
  const space = facts?.space;
  if (space === undefined || uuid === '') {
    const why = facts?.error ?? 'no information about the disk yet';
    conditions = cond(conditions, 'Ready', 'False', 'NoDiskInfo', `disk ${name} (${spec.path}): ${why}`, now);
    conditions = cond(conditions, 'Schedulable', 'False', 'DiskNotReady', `disk ${name} is not ready`, now);
  } else {
    conditions = cond(conditions, 'Ready', 'True', '', `disk ${name} (${spec.path}) is ready`, now);
    const floor = percentOf(space.maximum, minimalAvailablePercentage);
    conditions =
      space.available > floor
        ? cond(conditions, 'Schedulable', 'True', '', `disk ${name} (${spec.path}) is schedulable`, now)
        : cond(
            conditions,
            'Schedulable',
            'False',
            'DiskPressure',
            `disk ${name} (${spec.path}) on node ${node} has ${space.available} bytes available, not more than storage-minimal-available-percentage ${minimalAvailablePercentage}% of ${space.maximum}`,
            now,
          );
  }
  return {
    conditions,
    storageAvailable: space?.available ?? previous?.storageAvailable ?? 0,
    storageMaximum: space?.maximum ?? previous?.storageMaximum ?? 0,
    storageScheduled: scheduled,
    scheduledReplica,
    diskUUID: uuid,
    diskName: name,
    diskPath: spec.path ?? '',
    diskType: spec.diskType ?? 'filesystem',
    diskDriver: '',
    filesystemType: '',
  };
}

export function nodeStatus(node: Node, facts: NodeFacts): NodeStatus {
  const name = node.metadata.name;
  const prev = node.status ?? {};
  let conditions = prev.conditions;
  if (facts.k8sNodeGone) {
    conditions = cond(
      conditions,
      'Ready',
      'False',
      'KubernetesNodeGone',
      `Kubernetes node ${name} is gone`,
      facts.now,
    );
  } else if (!facts.live) {
    conditions = cond(
      conditions,
      'Ready',
      'False',
      'ManagerPodDown',
      `the operator of node ${name} is not running (its lease expired)`,
      facts.now,
    );
  } else {
    conditions = cond(conditions, 'Ready', 'True', '', `node ${name} is ready`, facts.now);
  }
  conditions = facts.cordoned
    ? cond(
        conditions,
        'Schedulable',
        'False',
        'KubernetesNodeCordoned',
        `Kubernetes node ${name} is cordoned`,
        facts.now,
      )
    : cond(conditions, 'Schedulable', 'True', '', '', facts.now);
  const diskStatusMap: Record<string, DiskStatus> = {};
  for (const [diskName, spec] of Object.entries(node.spec.disks ?? {})) {
    diskStatusMap[diskName] = diskStatus(
      name,
      diskName,
      spec,
      facts.disks[diskName],
      prev.diskStatus?.[diskName],
      facts.replicas,
      facts.minimalAvailablePercentage,
      facts.now,
    );
  }
  return {
    ...prev,
    conditions,
    diskStatus: diskStatusMap,
    zone: facts.zone,
    region: facts.region,
  };
}

/** Did anything a reader would notice change? (Ignores byte-level churn of storageAvailable.) */
export function nodeStatusChanged(a: NodeStatus | undefined, b: NodeStatus): boolean {
  if (a === undefined) return true;
  const strip = (s: NodeStatus) => {
    const disks: Record<string, unknown> = {};
    for (const [k, d] of Object.entries(s.diskStatus ?? {})) {
      // 1 MiB resolution on free space keeps an active disk from rewriting the CR on every look.
      disks[k] = { ...d, storageAvailable: Math.floor((d.storageAvailable ?? 0) / 1048576) };
    }
    return canonicalJson({ ...s, diskStatus: disks });
  };
  return strip(a) !== strip(b);
}

/** Longhorn's default disk of a new node: NODE_DATA_DIR, scheduling allowed. */
export function defaultNodeSpec(
  node: string,
  diskName: string,
  path: string,
  storageReserved: number,
): Node['spec'] {
  return {
    name: node,
    allowScheduling: true,
    evictionRequested: false,
    tags: [],
    disks: {
      [diskName]: {
        diskType: 'filesystem',
        path,
        allowScheduling: true,
        evictionRequested: false,
        storageReserved,
        tags: [],
      },
    },
  };
}
