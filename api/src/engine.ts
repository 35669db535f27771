/**
 * Engine (lhe): the process that serves one attached volume: it fans writes out to the
 * replicas, tracks their modes, takes snapshots and drives rebuilds, and exposes the frontend
 * endpoint (for longhorn-ts, an NBD URI).
 */
import {
  type InstanceSpec,
  type InstanceStatus,
  instanceSpecProperties,
  instanceStatusProperties,
} from './instance.js';
import type { LonghornResource } from './object-meta.js';
import { arr, bool, bytes, enumOf, enumOrEmpty, int, map, obj, str } from './schema/builders.js';
import { AGE_COLUMN, type ResourceDefinition } from './schema/crd.js';
import type { Infer } from './schema/json-schema.js';
import type { Expect, SameShape } from './schema/schema-match.js';
import { VOLUME_FRONTENDS, type VolumeFrontend } from './volume.js';
import {
  type VolumeQos,
  type VolumeQosStatus,
  volumeQosSchema,
  volumeQosStatusSchema,
} from './volume-qos.js';

/** RW serves reads and writes; WO (rebuilding) takes writes only; ERR is out of the volume. */
export const REPLICA_MODES = ['RW', 'WO', 'ERR'] as const;
export type ReplicaMode = (typeof REPLICA_MODES)[number];

export interface EngineBackupStatus {
  progress?: number;
  backupURL?: string;
  error?: string;
  snapshotName?: string;
  state?: string;
  replicaAddress?: string;
}

export interface RestoreStatus {
  isRestoring?: boolean;
  lastRestored?: string;
  currentRestoringBackup?: string;
  progress?: number;
  error?: string;
  filename?: string;
  state?: string;
  backupURL?: string;
}

export interface PurgeStatus {
  error?: string;
  isPurging?: boolean;
  progress?: number;
  state?: string;
}

export interface RebuildStatus {
  error?: string;
  isRebuilding?: boolean;
  /** Percent done. */
  progress?: number;
  state?: string;
  /** Deprecated in Longhorn in favour of fromReplicaAddressList. */
  fromReplicaAddress?: string;
  fromReplicaAddressList?: string[];
  appliedRebuildingMBps?: number;
}

export interface SnapshotCloneStatus {
  isCloning?: boolean;
  error?: string;
  progress?: number;
  state?: string;
  fromReplicaAddress?: string;
  snapshotName?: string;
}

/** One layer of the chain as the engine reports it (`volume-head` included). */
export interface SnapshotInfo {
  name?: string;
  parent?: string;
  children?: Record<string, boolean>;
  removed?: boolean;
  /** Lower-case "c", as Longhorn spells it. */
  usercreated?: boolean;
  created?: string;
  /** Bytes, as a string. */
  size?: string;
  labels?: Record<string, string>;
}

export interface EngineSpec extends InstanceSpec {
  frontend?: VolumeFrontend | '';
  /** Replica name to the address the engine reaches it at. */
  replicaAddressMap?: Record<string, string>;
  upgradedReplicaAddressMap?: Record<string, string>;
  backupVolume?: string;
  requestedBackupRestore?: string;
  requestedDataSource?: string;
  disableFrontend?: boolean;
  revisionCounterDisabled?: boolean;
  unmapMarkSnapChainRemovedEnabled?: boolean;
  active?: boolean;
  snapshotMaxCount?: number;
  snapshotMaxSize?: string;
  rebuildConcurrentSyncLimit?: number;
  /** QoS limits the engine process applies (longhorn-ts extension). */
  qos?: VolumeQos;
}

export interface EngineStatus extends InstanceStatus {
  /** Bytes, as a string. */
  currentSize?: string;
  currentReplicaAddressMap?: Record<string, string>;
  /** Replica name to its mode in this engine. */
  replicaModeMap?: Record<string, ReplicaMode>;
  /** Replica name to when it last changed mode. */
  replicaTransitionTimeMap?: Record<string, string>;
  /**
   * The frontend endpoint. Longhorn: `/dev/longhorn/<volume>` (blockdev) or an iSCSI/NVMe-oF
   * target; longhorn-ts: the NBD URI, `nbd://HOST:PORT`. Empty while detached or with
   * the frontend disabled.
   */
  endpoint?: string;
  lastRestoredBackup?: string;
  backupStatus?: Record<string, EngineBackupStatus>;
  restoreStatus?: Record<string, RestoreStatus>;
  purgeStatus?: Record<string, PurgeStatus>;
  /** Rebuilding replica address to its progress. */
  rebuildStatus?: Record<string, RebuildStatus>;
  cloneStatus?: Record<string, SnapshotCloneStatus>;
  /** Snapshot name to what the engine knows of it. */
  snapshots?: Record<string, SnapshotInfo>;
  snapshotsError?: string;
  isExpanding?: boolean;
  lastExpansionError?: string;
  lastExpansionFailedAt?: string;
  unmapMarkSnapChainRemovedEnabled?: boolean;
  snapshotMaxCount?: number;
  snapshotMaxSize?: string;
  rebuildConcurrentSyncLimit?: number;
  qos?: VolumeQosStatus;
}

export type Engine = LonghornResource<'Engine', EngineSpec, EngineStatus>;

const percent = () => int({ min: 0, max: 100 });

const engineSpec = obj({
  ...instanceSpecProperties,
  frontend: enumOrEmpty(VOLUME_FRONTENDS),
  replicaAddressMap: map(str()),
  upgradedReplicaAddressMap: map(str()),
  backupVolume: str(),
  requestedBackupRestore: str(),
  requestedDataSource: str(),
  disableFrontend: bool(),
  revisionCounterDisabled: bool(),
  unmapMarkSnapChainRemovedEnabled: bool(),
  active: bool(),
  snapshotMaxCount: int({ min: 0 }),
  snapshotMaxSize: bytes(),
  rebuildConcurrentSyncLimit: int({ min: 0, max: 5 }),
  qos: volumeQosSchema,
});

const engineStatus = obj({
  ...instanceStatusProperties,
  currentSize: bytes(),
  currentReplicaAddressMap: map(str(), { nullable: true }),
  replicaModeMap: map(enumOf(REPLICA_MODES), { nullable: true }),
  replicaTransitionTimeMap: map(str()),
  endpoint: str(),
  lastRestoredBackup: str(),
  backupStatus: map(
    obj({
      progress: percent(),
      backupURL: str(),
      error: str(),
      snapshotName: str(),
      state: str(),
      replicaAddress: str(),
    }),
    { nullable: true },
  ),
  restoreStatus: map(
    obj({
      isRestoring: bool(),
      lastRestored: str(),
      currentRestoringBackup: str(),
      progress: percent(),
      error: str(),
      filename: str(),
      state: str(),
      backupURL: str(),
    }),
    { nullable: true },
  ),
  purgeStatus: map(obj({ error: str(), isPurging: bool(), progress: percent(), state: str() }), {
    nullable: true,
  }),
  rebuildStatus: map(
    obj({
      error: str(),
      isRebuilding: bool(),
      progress: percent(),
      state: str(),
      fromReplicaAddress: str(),
      fromReplicaAddressList: arr(str()),
      appliedRebuildingMBps: int({ format: 'int64', min: 0 }),
    }),
    { nullable: true },
  ),
  cloneStatus: map(
    obj({
      isCloning: bool(),
      error: str(),
      progress: percent(),
      state: str(),
      fromReplicaAddress: str(),
      snapshotName: str(),
    }),
    { nullable: true },
  ),
  snapshots: map(
    obj({
      name: str(),
      parent: str(),
      children: map(bool(), { nullable: true }),
      removed: bool(),
      usercreated: bool(),
      created: str(),
      size: str(),
      labels: map(str(), { nullable: true }),
    }),
    { nullable: true },
  ),
  snapshotsError: str(),
  isExpanding: bool(),
  lastExpansionError: str(),
  lastExpansionFailedAt: str(),
  unmapMarkSnapChainRemovedEnabled: bool(),
  snapshotMaxCount: int({ min: 0 }),
  snapshotMaxSize: bytes(),
  rebuildConcurrentSyncLimit: int({ min: 0, max: 5 }),
  qos: volumeQosStatusSchema,
});

type _SpecCheck = Expect<SameShape<EngineSpec, Infer<typeof engineSpec>>>;
type _StatusCheck = Expect<SameShape<EngineStatus, Infer<typeof engineStatus>>>;

export const engineResource: ResourceDefinition = {
  kind: 'Engine',
  plural: 'engines',
  shortNames: ['lhe'],
  description: 'The process serving one attached volume: replica fan-out, snapshots, rebuilds, frontend.',
  properties: { spec: engineSpec, status: engineStatus },
  printerColumns: [
    {
      name: 'Data Engine',
      type: 'string',
      jsonPath: '.spec.dataEngine',
      description: 'The data engine of the engine',
    },
    {
      name: 'State',
      type: 'string',
      jsonPath: '.status.currentState',
      description: 'The current state of the engine',
    },
    { name: 'Node', type: 'string', jsonPath: '.spec.nodeID', description: 'The node that the engine is on' },
    {
      name: 'InstanceManager',
      type: 'string',
      jsonPath: '.status.instanceManagerName',
      description: 'The instance manager of the engine',
    },
    {
      name: 'Image',
      type: 'string',
      jsonPath: '.status.currentImage',
      description: 'The current image of the engine',
    },
    AGE_COLUMN,
    {
      // Not in Longhorn: `kubectl get lhe -o wide` shows where the volume is served.
      name: 'Endpoint',
      type: 'string',
      jsonPath: '.status.endpoint',
      description: 'The frontend endpoint (the NBD URI)',
      priority: 1,
    },
  ],
};
