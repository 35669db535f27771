/**
 * Volume (lhv): a replicated block device. Spec fields, enums and their spellings are
 * Longhorn's, so a Longhorn user's Volume YAML applies unchanged.
 */
import {
  BACKUP_BLOCK_SIZES,
  BACKUP_COMPRESSION_METHODS,
  type BackupBlockSize,
  type BackupCompressionMethod,
} from './backup.js';
import { type Condition, conditionsSchema } from './condition.js';
import { DATA_ENGINES, type DataEngine } from './data-engine.js';
import type { LonghornResource } from './object-meta.js';
import { arr, bool, bytes, enumOf, enumOrEmpty, int, obj, str } from './schema/builders.js';
import { AGE_COLUMN, type ResourceDefinition } from './schema/crd.js';
import type { Infer } from './schema/json-schema.js';
import type { Expect, SameShape } from './schema/schema-match.js';
import { SHARE_MANAGER_STATES, type ShareManagerState } from './share-manager.js';
import {
  type VolumeQos,
  type VolumeQosStatus,
  volumeQosSchema,
  volumeQosStatusSchema,
} from './volume-qos.js';

export const VOLUME_STATES = [
  'creating',
  'attached',
  'detached',
  'attaching',
  'detaching',
  'deleting',
] as const;
export type VolumeState = (typeof VOLUME_STATES)[number];

export const VOLUME_ROBUSTNESSES = ['healthy', 'degraded', 'faulted', 'unknown'] as const;
export type VolumeRobustness = (typeof VOLUME_ROBUSTNESSES)[number];

/**
 * Longhorn's frontends plus `nbd`, longhorn-ts's own: the engine serves the volume over NBD
 * and the node attaches it as a block device. Longhorn also admits `""` (no frontend).
 */
export const VOLUME_FRONTENDS = ['blockdev', 'iscsi', 'nvmf', 'ublk', 'nbd'] as const;
export type VolumeFrontend = (typeof VOLUME_FRONTENDS)[number];

export const DATA_LOCALITIES = ['disabled', 'best-effort', 'strict-local'] as const;
export type DataLocality = (typeof DATA_LOCALITIES)[number];

export const ACCESS_MODES = ['rwo', 'rwop', 'rwx'] as const;
export type AccessMode = (typeof ACCESS_MODES)[number];

/** `ignored` follows the global setting replica-auto-balance. */
export const REPLICA_AUTO_BALANCES = ['ignored', 'disabled', 'least-effort', 'best-effort'] as const;
export type ReplicaAutoBalance = (typeof REPLICA_AUTO_BALANCES)[number];

/**
 * A per-volume override of a global setting: `ignored` follows the setting, `enabled` and
 * `disabled` overrule it. Longhorn uses it for the three soft anti-affinities,
 * unmapMarkSnapChainRemoved, restoreVolumeRecurringJob, freezeFilesystemForSnapshot and
 * offlineRebuilding.
 */
export const SETTING_OVERRIDES = ['ignored', 'enabled', 'disabled'] as const;
export type SettingOverride = (typeof SETTING_OVERRIDES)[number];

export const SNAPSHOT_DATA_INTEGRITIES = ['ignored', 'disabled', 'enabled', 'fast-check'] as const;
export type SnapshotDataIntegrity = (typeof SNAPSHOT_DATA_INTEGRITIES)[number];

export const CLONE_MODES = ['full-copy', 'linked-clone'] as const;
export type CloneMode = (typeof CLONE_MODES)[number];

export const VOLUME_CLONE_STATES = [
  'initiated',
  'copy-completed-awaiting-healthy',
  'completed',
  'failed',
] as const;
export type VolumeCloneState = (typeof VOLUME_CLONE_STATES)[number];

export const VOLUME_CONDITION_TYPES = [
  'Scheduled',
  'Restore',
  'TooManySnapshots',
  'WaitForBackingImage',
  'BackingImageIncompatible',
  'OfflineRebuilding',
] as const;
export type VolumeConditionType = (typeof VOLUME_CONDITION_TYPES)[number];

export const VOLUME_CONDITION_REASONS = {
  replicaSchedulingFailure: 'ReplicaSchedulingFailure',
  localReplicaSchedulingFailure: 'LocalReplicaSchedulingFailure',
  restoreInProgress: 'RestoreInProgress',
  restoreFailure: 'RestoreFailure',
  tooManySnapshots: 'TooManySnapshots',
  offlineRebuildingInProgress: 'OfflineRebuildingInProgress',
} as const;

/** Longhorn's bounds on numberOfReplicas (its webhook's; here the CRD schema enforces them). */
export const MIN_REPLICAS = 1;
export const MAX_REPLICAS = 20;
/** Longhorn's maximum snapshot chain length (longhorn-engine's maximumChainLength). */
export const MAX_SNAPSHOT_COUNT = 250;

/** `vol://<volume>` (clone a volume) or `snap://<volume>/<snapshot>` (clone from a snapshot). */
export const DATA_SOURCE_PATTERN = '^(vol://[^/]+|snap://[^/]+/[^/]+)?$';

export function volumeDataSource(volumeName: string): string {
  return `vol://${volumeName}`;
}

export function snapshotDataSource(volumeName: string, snapshotName: string): string {
  return `snap://${volumeName}/${snapshotName}`;
}

export interface VolumeSpec {
  /** Bytes, as a string of decimal digits (`"2147483648"`). */
  size?: string;
  frontend?: VolumeFrontend | '';
  ublkQueueDepth?: number;
  ublkNumberOfQueue?: number;
  nvmeTcpNrIoQueues?: number;
  /** Backup URL to restore from at creation. */
  fromBackup?: string;
  restoreVolumeRecurringJob?: SettingOverride;
  /** See DATA_SOURCE_PATTERN. */
  dataSource?: string;
  cloneMode?: CloneMode | '';
  dataLocality?: DataLocality;
  /** Minutes a failed replica is kept for reuse before it is deleted. */
  staleReplicaTimeout?: number;
  /** The node to attach to; set by the winning attachment ticket. */
  nodeID?: string;
  engineNodeID?: string;
  migrationNodeID?: string;
  image?: string;
  backingImage?: string;
  /** A disaster-recovery volume that keeps restoring from its backup. Capital S, as Longhorn has it. */
  Standby?: boolean;
  /** Disk tags every replica's disk must carry. */
  diskSelector?: string[];
  /** Node tags every replica's node must carry. */
  nodeSelector?: string[];
  topologyRequirement?: { zone?: string; region?: string }[];
  disableFrontend?: boolean;
  revisionCounterDisabled?: boolean;
  unmapMarkSnapChainRemoved?: SettingOverride;
  replicaSoftAntiAffinity?: SettingOverride;
  replicaZoneSoftAntiAffinity?: SettingOverride;
  replicaDiskSoftAntiAffinity?: SettingOverride;
  lastAttachedBy?: string;
  accessMode?: AccessMode;
  migratable?: boolean;
  encrypted?: boolean;
  numberOfReplicas?: number;
  replicaAutoBalance?: ReplicaAutoBalance;
  snapshotDataIntegrity?: SnapshotDataIntegrity;
  backupCompressionMethod?: BackupCompressionMethod;
  backupBlockSize?: BackupBlockSize;
  dataEngine?: DataEngine;
  /** 2..250 (0: the setting snapshot-max-count). */
  snapshotMaxCount?: number;
  /** Bytes as a string; "0" means no limit, otherwise at least twice the size. */
  snapshotMaxSize?: string;
  freezeFilesystemForSnapshot?: SettingOverride;
  backupTargetName?: string;
  offlineRebuilding?: SettingOverride;
  /** MB/s on the rebuilding replica; 0: unlimited. */
  replicaRebuildingBandwidthLimit?: number;
  /** Concurrent file syncs in one rebuild, 0..5; 0: the setting. */
  rebuildConcurrentSyncLimit?: number;
  snapshotHashingRequestedAt?: string;
  /** QoS limits (longhorn-ts extension, see volume-qos.ts). */
  qos?: VolumeQos;
}

export interface KubernetesStatus {
  pvName?: string;
  pvStatus?: string;
  namespace?: string;
  pvcName?: string;
  lastPVCRefAt?: string;
  workloadsStatus?: { podName?: string; podStatus?: string; workloadName?: string; workloadType?: string }[];
  lastPodRefAt?: string;
}

export interface VolumeCloneStatus {
  sourceVolume?: string;
  snapshot?: string;
  state?: VolumeCloneState | '';
  attemptCount?: number;
  nextAllowedAttemptAt?: string;
}

export interface VolumeStatus {
  /** The node whose operator acts on this volume. */
  ownerID?: string;
  state?: VolumeState | '';
  robustness?: VolumeRobustness | '';
  /** The node the volume is attached to, set only once the engine and replicas are open. */
  currentNodeID?: string;
  currentEngineNodeID?: string;
  currentImage?: string;
  kubernetesStatus?: KubernetesStatus;
  conditions?: Condition[];
  lastBackup?: string;
  lastBackupAt?: string;
  currentMigrationNodeID?: string;
  frontendDisabled?: boolean;
  restoreRequired?: boolean;
  restoreInitiated?: boolean;
  cloneStatus?: VolumeCloneStatus;
  remountRequestedAt?: string;
  expansionRequired?: boolean;
  isStandby?: boolean;
  /** Bytes used on disk by the biggest replica, snapshots included. */
  actualSize?: number;
  lastDegradedAt?: string;
  lastAutoSalvagedAt?: string;
  shareEndpoint?: string;
  shareState?: ShareManagerState | '';
  lastOnDemandSnapshotHashingCompleteAt?: string;
  /** The limits the engine applies and the time spent throttled (longhorn-ts extension). */
  qos?: VolumeQosStatus;
}

export type Volume = LonghornResource<'Volume', VolumeSpec, VolumeStatus>;

const override = () => enumOf(SETTING_OVERRIDES);

const volumeSpec = obj({
  size: bytes(),
  frontend: enumOrEmpty(VOLUME_FRONTENDS),
  ublkQueueDepth: int({ min: 0 }),
  ublkNumberOfQueue: int({ min: 0 }),
  nvmeTcpNrIoQueues: int({ min: 0, max: 128 }),
  fromBackup: str(),
  restoreVolumeRecurringJob: override(),
  dataSource: str({ pattern: DATA_SOURCE_PATTERN }),
  cloneMode: enumOrEmpty(CLONE_MODES),
  dataLocality: enumOf(DATA_LOCALITIES),
  staleReplicaTimeout: int({ min: 0 }),
  nodeID: str(),
  engineNodeID: str(),
  migrationNodeID: str(),
  image: str(),
  backingImage: str({ immutable: 'BackingImage is immutable' }),
  Standby: bool(),
  diskSelector: arr(str()),
  nodeSelector: arr(str()),
  topologyRequirement: arr(obj({ zone: str(), region: str() }), {
    immutable: 'TopologyRequirement is immutable',
  }),
  disableFrontend: bool(),
  revisionCounterDisabled: bool(),
  unmapMarkSnapChainRemoved: override(),
  replicaSoftAntiAffinity: override(),
  replicaZoneSoftAntiAffinity: override(),
  replicaDiskSoftAntiAffinity: override(),
  lastAttachedBy: str(),
  accessMode: enumOf(ACCESS_MODES),
  migratable: bool(),
  encrypted: bool({ immutable: 'Encrypted is immutable' }),
  numberOfReplicas: int({ min: MIN_REPLICAS, max: MAX_REPLICAS }),
  replicaAutoBalance: enumOf(REPLICA_AUTO_BALANCES),
  snapshotDataIntegrity: enumOf(SNAPSHOT_DATA_INTEGRITIES),
  backupCompressionMethod: enumOf(BACKUP_COMPRESSION_METHODS),
  backupBlockSize: enumOf(BACKUP_BLOCK_SIZES),
  dataEngine: enumOf(DATA_ENGINES),
  snapshotMaxCount: int({ min: 0, max: MAX_SNAPSHOT_COUNT }),
  snapshotMaxSize: bytes(),
  freezeFilesystemForSnapshot: override(),
  backupTargetName: str(),
  offlineRebuilding: override(),
  replicaRebuildingBandwidthLimit: int({ format: 'int64', min: 0 }),
  rebuildConcurrentSyncLimit: int({ min: 0, max: 5 }),
  snapshotHashingRequestedAt: str(),
  qos: volumeQosSchema,
});

const kubernetesStatus = obj({
  pvName: str(),
  pvStatus: str(),
  namespace: str(),
  pvcName: str(),
  lastPVCRefAt: str(),
  workloadsStatus: arr(obj({ podName: str(), podStatus: str(), workloadName: str(), workloadType: str() }), {
    nullable: true,
  }),
  lastPodRefAt: str(),
});

const volumeStatus = obj({
  ownerID: str(),
  state: enumOrEmpty(VOLUME_STATES),
  robustness: enumOrEmpty(VOLUME_ROBUSTNESSES),
  currentNodeID: str(),
  currentEngineNodeID: str(),
  currentImage: str(),
  kubernetesStatus,
  conditions: conditionsSchema,
  lastBackup: str(),
  lastBackupAt: str(),
  currentMigrationNodeID: str(),
  frontendDisabled: bool(),
  restoreRequired: bool(),
  restoreInitiated: bool(),
  cloneStatus: obj({
    sourceVolume: str(),
    snapshot: str(),
    state: enumOrEmpty(VOLUME_CLONE_STATES),
    attemptCount: int({ min: 0 }),
    nextAllowedAttemptAt: str(),
  }),
  remountRequestedAt: str(),
  expansionRequired: bool(),
  isStandby: bool(),
  actualSize: int({ format: 'int64', min: 0 }),
  lastDegradedAt: str(),
  lastAutoSalvagedAt: str(),
  shareEndpoint: str(),
  shareState: enumOrEmpty(SHARE_MANAGER_STATES),
  lastOnDemandSnapshotHashingCompleteAt: str(),
  qos: volumeQosStatusSchema,
});

type _SpecCheck = Expect<SameShape<VolumeSpec, Infer<typeof volumeSpec>>>;
type _StatusCheck = Expect<SameShape<VolumeStatus, Infer<typeof volumeStatus>>>;

export const volumeResource: ResourceDefinition = {
  kind: 'Volume',
  plural: 'volumes',
  shortNames: ['lhv'],
  description: 'A replicated block device: its desired shape (spec) and observed state (status).',
  properties: { spec: volumeSpec, status: volumeStatus },
  printerColumns: [
    {
      name: 'Data Engine',
      type: 'string',
      jsonPath: '.spec.dataEngine',
      description: 'The data engine of the volume',
    },
    { name: 'State', type: 'string', jsonPath: '.status.state', description: 'The state of the volume' },
    {
      name: 'Robustness',
      type: 'string',
      jsonPath: '.status.robustness',
      description: 'The robustness of the volume',
    },
    {
      // Longhorn's column reads the condition type 'Schedulable', which volumes never carry; the
      // condition is 'Scheduled', so the column reads that.
      name: 'Scheduled',
      type: 'string',
      jsonPath: ".status.conditions[?(@.type=='Scheduled')].status",
      description: 'The scheduled condition of the volume',
    },
    { name: 'Size', type: 'string', jsonPath: '.spec.size', description: 'The size of the volume' },
    {
      name: 'Node',
      type: 'string',
      jsonPath: '.status.currentNodeID',
      description: 'The node that the volume is currently attaching to',
    },
    AGE_COLUMN,
  ],
};
