/**
 * Node (lhn): Longhorn's view of one Kubernetes node: its disks (where replicas live), tags,
 * zone and region, and whether replicas may be scheduled there.
 */
import { type Condition, conditionsSchema } from './condition.js';
import type { LonghornResource } from './object-meta.js';
import { arr, bool, dateTime, enumOf, enumOrEmpty, int, map, obj, str } from './schema/builders.js';
import { AGE_COLUMN, type ResourceDefinition } from './schema/crd.js';
import type { Infer } from './schema/json-schema.js';
import type { Expect, SameShape } from './schema/schema-match.js';

/** `filesystem` holds v1 replica directories; `block` is a v2 (SPDK) disk. */
export const DISK_TYPES = ['filesystem', 'block'] as const;
export type DiskType = (typeof DISK_TYPES)[number];

export const DISK_DRIVERS = ['auto', 'aio', 'nvme'] as const;
export type DiskDriver = (typeof DISK_DRIVERS)[number];

export const NODE_CONDITION_TYPES = [
  'Ready',
  'Schedulable',
  'MountPropagation',
  'Multipathd',
  'KernelModulesLoaded',
  'RequiredPackages',
  'NFSClientInstalled',
  'HugePagesAvailable',
] as const;
export type NodeConditionType = (typeof NODE_CONDITION_TYPES)[number];

export const NODE_CONDITION_REASONS = {
  managerPodDown: 'ManagerPodDown',
  managerPodMissing: 'ManagerPodMissing',
  kubernetesNodeGone: 'KubernetesNodeGone',
  kubernetesNodeNotReady: 'KubernetesNodeNotReady',
  kubernetesNodePressure: 'KubernetesNodePressure',
  kubernetesNodeCordoned: 'KubernetesNodeCordoned',
} as const;

export const DISK_CONDITION_TYPES = ['Ready', 'Schedulable', 'Error'] as const;
export type DiskConditionType = (typeof DISK_CONDITION_TYPES)[number];

export const DISK_CONDITION_REASONS = {
  diskPressure: 'DiskPressure',
  diskFilesystemChanged: 'DiskFilesystemChanged',
  noDiskInfo: 'NoDiskInfo',
  diskNotReady: 'DiskNotReady',
  diskServiceUnreachable: 'DiskServiceUnreachable',
  nodeNotReady: 'NodeNotReady',
} as const;

/** Longhorn's replica scheduling failure messages (they end up in a volume's Scheduled condition). */
export const REPLICA_SCHEDULE_ERRORS = {
  insufficientStorage: 'insufficient storage',
  diskNotFound: 'disk not found',
  diskUnavailable: 'disks are unavailable',
  tagsNotFulfilled: 'tags not fulfilled',
  nodeNotFound: 'node not found',
  nodeUnavailable: 'nodes are unavailable',
  hardNodeAffinityNotSatisfied: 'hard affinity cannot be satisfied',
  schedulingFailed: 'replica scheduling failed',
} as const;

export interface DiskSpec {
  diskType?: DiskType;
  /** Absolute path of the directory that holds the replicas. */
  path?: string;
  diskDriver?: DiskDriver | '';
  allowScheduling?: boolean;
  evictionRequested?: boolean;
  /** Bytes kept free of replicas. */
  storageReserved?: number;
  tags?: string[];
}

export interface DiskStatus {
  conditions?: Condition[];
  /** Bytes, from the file system. */
  storageAvailable?: number;
  /** Bytes promised to the replicas scheduled here (their volumes' sizes). */
  storageScheduled?: number;
  /** Bytes, the file system's size. */
  storageMaximum?: number;
  /** Replica name to its size in bytes. */
  scheduledReplica?: Record<string, number>;
  scheduledBackingImage?: Record<string, number>;
  diskUUID?: string;
  diskName?: string;
  diskPath?: string;
  diskType?: DiskType | '';
  diskDriver?: DiskDriver | '';
  filesystemType?: string;
  instanceManagerName?: string;
}

export interface NodeSpec {
  name?: string;
  /** Disks by name (Longhorn's default one is `default-disk-<fsid>`). */
  disks?: Record<string, DiskSpec>;
  allowScheduling?: boolean;
  evictionRequested?: boolean;
  tags?: string[];
  instanceManagerCPURequest?: number;
}

export interface NodeStatus {
  conditions?: Condition[];
  diskStatus?: Record<string, DiskStatus>;
  /** From the Kubernetes node's topology.kubernetes.io/region label. */
  region?: string;
  /** From the Kubernetes node's topology.kubernetes.io/zone label. */
  zone?: string;
  snapshotCheckStatus?: { lastPeriodicCheckedAt?: string };
  autoEvicting?: boolean;
}

export type Node = LonghornResource<'Node', NodeSpec, NodeStatus>;

const bytesCount = () => int({ format: 'int64', min: 0 });

const diskSpec = obj({
  diskType: enumOf(DISK_TYPES),
  path: str(),
  diskDriver: enumOrEmpty(DISK_DRIVERS),
  allowScheduling: bool(),
  evictionRequested: bool(),
  storageReserved: bytesCount(),
  tags: arr(str()),
});

const diskStatus = obj({
  conditions: conditionsSchema,
  storageAvailable: int({ format: 'int64' }),
  storageScheduled: int({ format: 'int64' }),
  storageMaximum: int({ format: 'int64' }),
  scheduledReplica: map(int({ format: 'int64' }), { nullable: true }),
  scheduledBackingImage: map(int({ format: 'int64' }), { nullable: true }),
  diskUUID: str(),
  diskName: str(),
  diskPath: str(),
  diskType: enumOrEmpty(DISK_TYPES),
  diskDriver: enumOrEmpty(DISK_DRIVERS),
  filesystemType: str(),
  instanceManagerName: str(),
});

const nodeSpec = obj({
  name: str(),
  disks: map(diskSpec),
  allowScheduling: bool(),
  evictionRequested: bool(),
  tags: arr(str()),
  instanceManagerCPURequest: int({ min: 0 }),
});

const nodeStatus = obj({
  conditions: conditionsSchema,
  diskStatus: map(diskStatus, { nullable: true }),
  region: str(),
  zone: str(),
  snapshotCheckStatus: obj({ lastPeriodicCheckedAt: dateTime({ nullable: true }) }),
  autoEvicting: bool(),
});

type _DiskSpecCheck = Expect<SameShape<DiskSpec, Infer<typeof diskSpec>>>;
type _DiskStatusCheck = Expect<SameShape<DiskStatus, Infer<typeof diskStatus>>>;
type _SpecCheck = Expect<SameShape<NodeSpec, Infer<typeof nodeSpec>>>;
type _StatusCheck = Expect<SameShape<NodeStatus, Infer<typeof nodeStatus>>>;

export const nodeResource: ResourceDefinition = {
  kind: 'Node',
  plural: 'nodes',
  shortNames: ['lhn'],
  description: 'Longhorn view of one node: its disks, tags, zone, and whether replicas may go there.',
  properties: { spec: nodeSpec, status: nodeStatus },
  printerColumns: [
    {
      name: 'Ready',
      type: 'string',
      jsonPath: ".status.conditions[?(@.type=='Ready')].status",
      description: 'Indicate whether the node is ready',
    },
    {
      name: 'AllowScheduling',
      type: 'boolean',
      jsonPath: '.spec.allowScheduling',
      description: 'Indicate whether the user disabled/enabled replica scheduling for the node',
    },
    {
      name: 'Schedulable',
      type: 'string',
      jsonPath: ".status.conditions[?(@.type=='Schedulable')].status",
      description: 'Indicate whether Longhorn can schedule replicas on the node',
    },
    AGE_COLUMN,
  ],
};
