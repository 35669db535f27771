/** Replica (lhr): one copy of a volume's data in one disk directory of one node. */
import {
  type InstanceSpec,
  type InstanceStatus,
  instanceSpecProperties,
  instanceStatusProperties,
} from './instance.js';
import type { LonghornResource } from './object-meta.js';
import { bool, bytes, int, obj, str } from './schema/builders.js';
import { AGE_COLUMN, type ResourceDefinition } from './schema/crd.js';
import type { Infer } from './schema/json-schema.js';
import type { Expect, SameShape } from './schema/schema-match.js';

export const REPLICA_CONDITION_TYPES = ['RebuildFailed', 'WaitForBackingImage'] as const;
export const REPLICA_CONDITION_REASONS = {
  rebuildFailedDisconnection: 'Disconnection',
  rebuildFailedGeneral: 'General',
} as const;

export interface ReplicaSpec extends InstanceSpec {
  /** The engine this replica serves. */
  engineName?: string;
  migrationEngineName?: string;
  /** Set when the replica first became RW after creation or a rebuild; cleared before a rebuild. */
  healthyAt?: string;
  /** Set every time the replica becomes RW; never cleared. */
  lastHealthyAt?: string;
  /** Set when the replica failed; a failed replica must be rebuilt (or salvaged). */
  failedAt?: string;
  /** Set with failedAt; never cleared. */
  lastFailedAt?: string;
  /** UUID of the disk on `nodeID` that holds the data. */
  diskID?: string;
  diskPath?: string;
  /** Directory under `<diskPath>/replicas/`. */
  dataDirectoryName?: string;
  backingImage?: string;
  active?: boolean;
  /** Node the replica must be scheduled on (strict-local, or reusing data). */
  hardNodeAffinity?: string;
  revisionCounterDisabled?: boolean;
  unmapMarkDiskChainRemovedEnabled?: boolean;
  rebuildRetryCount?: number;
  evictionRequested?: boolean;
  snapshotMaxCount?: number;
  snapshotMaxSize?: string;
}

export type ReplicaStatus = InstanceStatus;

export type Replica = LonghornResource<'Replica', ReplicaSpec, ReplicaStatus>;

const replicaSpec = obj({
  ...instanceSpecProperties,
  engineName: str(),
  migrationEngineName: str(),
  healthyAt: str(),
  lastHealthyAt: str(),
  failedAt: str(),
  lastFailedAt: str(),
  diskID: str(),
  diskPath: str(),
  dataDirectoryName: str(),
  backingImage: str(),
  active: bool(),
  hardNodeAffinity: str(),
  revisionCounterDisabled: bool(),
  unmapMarkDiskChainRemovedEnabled: bool(),
  rebuildRetryCount: int({ min: 0 }),
  evictionRequested: bool(),
  snapshotMaxCount: int({ min: 0 }),
  snapshotMaxSize: bytes(),
});

const replicaStatus = obj(instanceStatusProperties);

type _SpecCheck = Expect<SameShape<ReplicaSpec, Infer<typeof replicaSpec>>>;
type _StatusCheck = Expect<SameShape<ReplicaStatus, Infer<typeof replicaStatus>>>;

export const replicaResource: ResourceDefinition = {
  kind: 'Replica',
  plural: 'replicas',
  shortNames: ['lhr'],
  description: "One copy of a volume's data, in a directory of one disk of one node.",
  properties: { spec: replicaSpec, status: replicaStatus },
  printerColumns: [
    {
      name: 'Data Engine',
      type: 'string',
      jsonPath: '.spec.dataEngine',
      description: 'The data engine of the replica',
    },
    {
      name: 'State',
      type: 'string',
      jsonPath: '.status.currentState',
      description: 'The current state of the replica',
    },
    {
      name: 'Node',
      type: 'string',
      jsonPath: '.spec.nodeID',
      description: 'The node that the replica is on',
    },
    {
      name: 'Disk',
      type: 'string',
      jsonPath: '.spec.diskID',
      description: 'The disk that the replica is on',
    },
    {
      name: 'InstanceManager',
      type: 'string',
      jsonPath: '.status.instanceManagerName',
      description: 'The instance manager of the replica',
    },
    {
      name: 'Image',
      type: 'string',
      jsonPath: '.status.currentImage',
      description: 'The current image of the replica',
    },
    AGE_COLUMN,
  ],
};
