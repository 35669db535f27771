/**
 * The Settings registry: Longhorn's setting names, types, categories, defaults and rules
 * (longhorn-manager types/setting.go), with validation whose messages say what to write
 * instead. A Setting object holds its value as a string; `parseSetting` turns it into a
 * typed value.
 */
import { validateCron } from './cron.js';
import { DATA_ENGINES, type DataEngine } from './data-engine.js';
import { NAMESPACE } from './group.js';
import { LONGHORN_API_VERSION } from './object-meta.js';
import type { Setting } from './setting.js';
import { parseQosSetting } from './volume-qos.js';

/** Longhorn's setting types; a `string` with `choices` is an enum. */
export const SETTING_TYPES = ['bool', 'int', 'float', 'string', 'deprecated'] as const;
export type SettingType = (typeof SETTING_TYPES)[number];

export const SETTING_CATEGORIES = [
  'system info',
  'general',
  'backup',
  'orphan',
  'scheduling',
  'danger Zone',
  'snapshot',
] as const;
export type SettingCategory = (typeof SETTING_CATEGORIES)[number];

/** Extra rules for string settings. */
export const STRING_FORMATS = [
  'cron',
  'qos-limits',
  'backup-target-url',
  'dns-subdomain',
  'data-path',
  'control-path',
  'taint-tolerations',
  'node-selector',
  'orphan-resource-types',
  'http-url',
  'cni-network',
  'cpu-mask',
] as const;
export type StringFormat = (typeof STRING_FORMATS)[number];

interface Common {
  displayName: string;
  category: SettingCategory;
  /** What the setting does, in a sentence. */
  description: string;
  /** Set by the system; users cannot change it. */
  readOnly?: boolean;
  /** An empty value is refused (Longhorn's `Required`; true unless said otherwise). */
  required?: boolean;
  /**
   * The data engines the setting applies to when it is data-engine specific: the value may
   * then also be JSON per engine, `{"v1":"3","v2":"3"}`, as Longhorn writes it.
   */
  dataEngines?: readonly DataEngine[];
}

export interface BoolSettingSpec extends Common {
  type: 'bool';
  default: boolean;
}

export interface IntSettingSpec extends Common {
  type: 'int';
  default: number;
  min?: number;
  max?: number;
  choices?: readonly number[];
}

export interface FloatSettingSpec extends Common {
  type: 'float';
  default: number;
  min?: number;
  max?: number;
}

export interface StringSettingSpec extends Common {
  type: 'string';
  default: string;
  choices?: readonly string[];
  format?: StringFormat;
}

export interface DeprecatedSettingSpec extends Common {
  type: 'deprecated';
  default: string;
}

export type SettingSpec =
  | BoolSettingSpec
  | IntSettingSpec
  | FloatSettingSpec
  | StringSettingSpec
  | DeprecatedSettingSpec;

const V1: readonly DataEngine[] = ['v1'];
const V2: readonly DataEngine[] = ['v2'];
const BOTH: readonly DataEngine[] = ['v1', 'v2'];

/** Longhorn's default data and control path. */
export const DEFAULT_DATA_PATH = '/var/lib/longhorn';

export const SETTING_DEFINITIONS = {
  // General
  'default-replica-count': {
    type: 'int',
    category: 'general',
    displayName: 'Default Replica Count',
    description: 'Replicas of a volume whose StorageClass or spec gives no number.',
    default: 3,
    min: 1,
    max: 20,
    dataEngines: BOTH,
  },
  'default-data-locality': {
    type: 'string',
    category: 'general',
    displayName: 'Default Data Locality',
    description:
      'Whether a volume keeps a replica on the node it is attached to, when its spec does not say.',
    default: 'disabled',
    choices: ['disabled', 'best-effort', 'strict-local'],
  },
  'default-data-path': {
    type: 'string',
    category: 'general',
    displayName: 'Default Data Path',
    description: 'Directory of the default disk of each node; fixed once nodes exist.',
    default: DEFAULT_DATA_PATH,
    format: 'data-path',
  },
  'default-control-path': {
    type: 'string',
    category: 'general',
    displayName: 'Default Control Path',
    description: 'Directory for runtime files (sockets, metadata, logs) on each node.',
    default: DEFAULT_DATA_PATH,
    format: 'control-path',
  },
  'create-default-disk-labeled-nodes': {
    type: 'bool',
    category: 'general',
    displayName: 'Create Default Disk on Labeled Nodes',
    description: 'Create the default disk only on nodes labelled node.longhorn.io/create-default-disk=true.',
    default: false,
  },
  'default-longhorn-static-storage-class': {
    type: 'string',
    category: 'general',
    displayName: 'Default Longhorn Static StorageClass Name',
    description: 'StorageClass of PVs created for existing volumes.',
    default: 'longhorn-static',
    format: 'dns-subdomain',
  },
  'auto-salvage': {
    type: 'bool',
    category: 'general',
    displayName: 'Automatic salvage',
    description: 'When every replica of a volume failed, bring the volume back from the newest ones.',
    default: true,
  },
  'auto-delete-pod-when-volume-detached-unexpectedly': {
    type: 'bool',
    category: 'general',
    displayName: 'Automatically Delete Workload Pod when The Volume Is Detached Unexpectedly',
    description: 'Delete a controller-managed pod whose volume went away, so it is recreated and remounts.',
    default: true,
  },
  'blacklist-for-auto-delete-pod-when-volume-detached-unexpectedly': {
    type: 'string',
    category: 'general',
    displayName: 'Blacklist for Automatically Delete Workload Pod when The Volume Is Detached Unexpectedly',
    description: 'Workload kinds (semicolon-separated) whose pods are never deleted for that reason.',
    default: '',
    required: false,
  },
  'node-down-pod-deletion-policy': {
    type: 'string',
    category: 'general',
    displayName: 'Pod Deletion Policy When Node is Down',
    description: 'Which pods on a down node are force-deleted so their volumes can move.',
    default: 'do-nothing',
    choices: [
      'do-nothing',
      'delete-statefulset-pod',
      'delete-deployment-pod',
      'delete-both-statefulset-and-deployment-pod',
    ],
  },
  'node-drain-policy': {
    type: 'string',
    category: 'general',
    displayName: 'Node Drain Policy',
    description: 'What a node drain waits for before it lets the node go.',
    default: 'block-if-contains-last-replica',
    choices: [
      'block-for-eviction',
      'block-for-eviction-if-contains-last-replica',
      'block-if-contains-last-replica',
      'allow-if-replica-is-stopped',
      'always-allow',
    ],
  },
  'detach-manually-attached-volumes-when-cordoned': {
    type: 'bool',
    category: 'general',
    displayName: 'Detach Manually Attached Volumes When Cordoned',
    description: 'Detach volumes attached through the API from a cordoned node.',
    default: false,
  },
  'disable-revision-counter': {
    type: 'bool',
    category: 'general',
    displayName: 'Disable Revision Counter',
    description: 'Do not keep a per-write revision counter; pick the newest replica by other means.',
    default: true,
    dataEngines: V1,
  },
  'replica-replenishment-wait-interval': {
    type: 'int',
    category: 'general',
    displayName: 'Replica Replenishment Wait Interval',
    description: 'Seconds to wait for a failed replica to come back before building a new one.',
    default: 600,
    min: 0,
  },
  'replica-rebuild-concurrent-sync-limit': {
    type: 'int',
    category: 'general',
    displayName: 'Replica Rebuild Concurrent Sync Limit',
    description: 'Files synced at once in one replica rebuild.',
    default: 1,
    min: 1,
    max: 5,
    dataEngines: V1,
  },
  'concurrent-volume-backup-restore-per-node-limit': {
    type: 'int',
    category: 'general',
    displayName: 'Concurrent Volume Backup Restore Per Node Limit',
    description: 'Volumes restoring from backup at once per node; 0 blocks restores.',
    default: 5,
    min: 0,
  },
  'system-managed-pods-image-pull-policy': {
    type: 'string',
    category: 'general',
    displayName: 'System Managed Pod Image Pull Policy',
    description: 'Image pull policy of the pods Longhorn creates.',
    default: 'if-not-present',
    choices: ['if-not-present', 'never', 'always'],
  },
  'concurrent-automatic-engine-upgrade-per-node-limit': {
    type: 'int',
    category: 'general',
    displayName: 'Concurrent Automatic Engine Upgrade Per Node Limit',
    description: 'Engines upgraded automatically at once per node; 0 turns automatic upgrade off.',
    default: 0,
    min: 0,
  },
  'backing-image-cleanup-wait-interval': {
    type: 'int',
    category: 'general',
    displayName: 'Backing Image Cleanup Wait Interval',
    description: 'Minutes before an unused backing image copy is removed from a disk.',
    default: 60,
    min: 0,
  },
  'backing-image-recovery-wait-interval': {
    type: 'int',
    category: 'general',
    displayName: 'Backing Image Recovery Wait Interval',
    description: 'Seconds before a failed backing image copy is re-downloaded.',
    default: 300,
    min: 0,
  },
  'kubernetes-cluster-autoscaler-enabled': {
    type: 'bool',
    category: 'general',
    displayName: 'Kubernetes Cluster Autoscaler Enabled (Experimental)',
    description: 'Let the cluster autoscaler remove nodes whose replicas have copies elsewhere.',
    default: false,
  },
  'upgrade-checker': {
    type: 'bool',
    category: 'general',
    displayName: 'Enable Upgrade Checker',
    description: 'Check periodically for a newer release.',
    default: true,
  },
  'upgrade-responder-url': {
    type: 'string',
    category: 'general',
    displayName: 'Upgrade Responder URL',
    description: 'Where the upgrade checker asks.',
    default: 'https://longhorn-upgrade-responder.rancher.io/v1/checkupgrade',
    format: 'http-url',
  },
  'manager-url': {
    type: 'string',
    category: 'general',
    displayName: 'Manager URL',
    description: 'External URL of the manager API, for links it hands out.',
    default: '',
    required: false,
    format: 'http-url',
  },
  'allow-collecting-longhorn-usage-metrics': {
    type: 'bool',
    category: 'general',
    displayName: 'Allow Collecting Longhorn Usage Metrics',
    description: 'Send anonymous usage figures with the upgrade check.',
    default: true,
  },
  'kubernetes-metrics-server-metrics-enabled': {
    type: 'bool',
    category: 'general',
    displayName: 'Kubernetes Metrics Server Metrics Enabled',
    description: 'Export CPU and memory figures from the metrics server.',
    default: true,
  },
  'support-bundle-failed-history-limit': {
    type: 'int',
    category: 'general',
    displayName: 'SupportBundle Failed History Limit',
    description: 'Failed support bundles kept for inspection.',
    default: 1,
    min: 0,
    required: false,
  },
  'support-bundle-node-collection-timeout': {
    type: 'int',
    category: 'general',
    displayName: 'Timeout for Support Bundle Node Collection',
    description: 'Minutes to wait for each node when collecting a support bundle.',
    default: 30,
    min: 0,
  },
  'deleting-confirmation-flag': {
    type: 'bool',
    category: 'general',
    displayName: 'Deleting Confirmation Flag',
    description: 'Must be true before an uninstall removes everything.',
    default: false,
  },
  'engine-replica-timeout': {
    type: 'int',
    category: 'general',
    displayName: 'Engine Replica Timeout',
    description: 'Seconds an engine waits for a replica to answer before marking it failed.',
    default: 8,
    min: 8,
    max: 30,
    dataEngines: BOTH,
  },
  'remove-snapshots-during-filesystem-trim': {
    type: 'bool',
    category: 'general',
    displayName: 'Remove Snapshots During Filesystem Trim',
    description: 'Let a trim mark snapshots removed so their space can be reclaimed.',
    default: false,
  },
  'fast-replica-rebuild-enabled': {
    type: 'bool',
    category: 'general',
    displayName: 'Fast Replica Rebuild Enabled',
    description: 'Skip unchanged snapshot files during a rebuild by comparing checksums.',
    default: true,
    dataEngines: BOTH,
  },
  'replica-file-sync-http-client-timeout': {
    type: 'int',
    category: 'general',
    displayName: 'Timeout of HTTP Client to Replica File Sync Server',
    description: 'Seconds a rebuild transfer may stall before it fails.',
    default: 30,
    min: 5,
    max: 120,
  },
  'long-grpc-timeout': {
    type: 'int',
    category: 'general',
    displayName: 'Long gRPC Timeout',
    description: 'Seconds allowed for long operations such as a replica rebuild sync.',
    default: 86400,
    min: 1,
    max: 604800,
  },
  'log-level': {
    type: 'string',
    category: 'general',
    displayName: 'Log Level',
    description: 'Log level of the manager.',
    default: 'Info',
    choices: ['Panic', 'Fatal', 'Error', 'Warn', 'Info', 'Debug', 'Trace'],
  },
  'default-min-number-of-backing-image-copies': {
    type: 'int',
    category: 'general',
    displayName: 'Default Minimum Number of BackingImage Copies',
    description: 'Copies of each backing image kept across disks.',
    default: 3,
    min: 1,
  },
  'rwx-volume-fast-failover': {
    type: 'bool',
    category: 'general',
    displayName: 'RWX Volume Fast Failover',
    description: 'Move the NFS server of an RWX volume quickly when its node fails.',
    default: false,
  },
  'offline-replica-rebuilding': {
    type: 'bool',
    category: 'general',
    displayName: 'Offline Replica Rebuilding',
    description: 'Rebuild replicas of degraded volumes while they are detached.',
    default: false,
  },
  'node-disk-health-monitoring': {
    type: 'bool',
    category: 'general',
    displayName: 'Node Disk Health Monitoring',
    description: 'Collect disk health data (SMART) from the nodes.',
    default: true,
  },
  'snapshot-heavy-task-concurrent-limit': {
    type: 'int',
    category: 'general',
    displayName: 'Snapshot Heavy Task Concurrent Limit',
    description: 'Snapshot purges and checksums running at once per node; 0: no limit.',
    default: 5,
    min: 0,
  },
  'csi-allowed-topology-keys': {
    type: 'string',
    category: 'general',
    displayName: 'CSI Allowed Topology Keys',
    description: 'Node label keys (comma-separated) the CSI driver reports as topology.',
    default: '',
    required: false,
  },
  'csi-storage-capacity-tracking': {
    type: 'bool',
    category: 'general',
    displayName: 'CSI Storage Capacity Tracking',
    description: 'Publish CSIStorageCapacity objects so the scheduler knows free space.',
    default: false,
  },
  'allow-live-engine-upgrade-on-same-image-commit': {
    type: 'bool',
    category: 'general',
    displayName: 'Allow Live Engine Upgrade On Same Image Commit',
    description: 'Allow a live engine upgrade between images built from one commit.',
    default: false,
  },
  'registry-secret': {
    type: 'string',
    category: 'general',
    displayName: 'Registry secret',
    description: 'Image pull secret for the pods Longhorn creates.',
    default: '',
    required: false,
    format: 'dns-subdomain',
  },
  'data-engine-log-level': {
    type: 'string',
    category: 'general',
    displayName: 'Data Engine Log Level',
    description: 'Log level of the v2 (SPDK) data engine.',
    default: 'Notice',
    choices: ['Error', 'Warning', 'Notice', 'Info', 'Debug'],
    dataEngines: V2,
  },
  'data-engine-log-flags': {
    type: 'string',
    category: 'general',
    displayName: 'Data Engine Log Flags',
    description: 'Log flags of the v2 (SPDK) data engine.',
    default: '',
    required: false,
    dataEngines: V2,
  },
  'replica-rebuilding-bandwidth-limit': {
    type: 'int',
    category: 'general',
    displayName: 'Replica Rebuilding Bandwidth Limit',
    description: 'MB/s written to a rebuilding replica; 0: unlimited.',
    default: 0,
    min: 0,
    required: false,
    dataEngines: V2,
  },
  'default-nvme-tcp-nr-io-queues': {
    type: 'int',
    category: 'general',
    displayName: 'Default NVMe-TCP Number Of IO Queues',
    description: 'I/O queues of an NVMe-TCP frontend; 0: the kernel default.',
    default: 0,
    min: 0,
    max: 128,
    dataEngines: V2,
  },
  'default-ublk-queue-depth': {
    type: 'int',
    category: 'general',
    displayName: 'Default Ublk Queue Depth',
    description: 'Queue depth of a ublk frontend.',
    default: 128,
    min: 32,
    dataEngines: V2,
  },
  'default-ublk-number-of-queue': {
    type: 'int',
    category: 'general',
    displayName: 'Default Ublk Number Of Queue',
    description: 'Queues of a ublk frontend.',
    default: 1,
    min: 1,
    dataEngines: V2,
  },

  // Scheduling
  'replica-soft-anti-affinity': {
    type: 'bool',
    category: 'scheduling',
    displayName: 'Replica Node Level Soft Anti-Affinity',
    description: 'Allow two replicas of a volume on one node when no other node fits.',
    default: false,
  },
  'replica-zone-soft-anti-affinity': {
    type: 'bool',
    category: 'scheduling',
    displayName: 'Replica Zone Level Soft Anti-Affinity',
    description: 'Allow two replicas of a volume in one zone when no other zone fits.',
    default: true,
  },
  'replica-disk-soft-anti-affinity': {
    type: 'bool',
    category: 'scheduling',
    displayName: 'Replica Disk Level Soft Anti-Affinity',
    description: 'Allow two replicas of a volume on one disk when no other disk fits.',
    default: true,
  },
  'replica-auto-balance': {
    type: 'string',
    category: 'scheduling',
    displayName: 'Replica Auto Balance',
    description: 'Move replicas to spread them when nodes become available.',
    default: 'disabled',
    choices: ['disabled', 'least-effort', 'best-effort'],
  },
  'replica-auto-balance-disk-pressure-percentage': {
    type: 'int',
    category: 'scheduling',
    displayName: 'Replica Auto Balance Disk Pressure Threshold (%)',
    description: 'Disk usage percent at which replicas move to another disk of the node; 0: never.',
    default: 90,
  },
  'storage-over-provisioning-percentage': {
    type: 'int',
    category: 'scheduling',
    displayName: 'Storage Over Provisioning Percentage',
    description: 'Volume sizes a disk may take, in percent of its capacity less the reserved space.',
    default: 100,
    min: 0,
  },
  'storage-minimal-available-percentage': {
    type: 'int',
    category: 'scheduling',
    displayName: 'Storage Minimal Available Percentage',
    description: 'A disk with less free space than this percent of its capacity takes no new replica.',
    default: 25,
    min: 0,
    max: 100,
  },
  'storage-reserved-percentage-for-default-disk': {
    type: 'int',
    category: 'scheduling',
    displayName: 'Storage Reserved Percentage For Default Disk',
    description: 'Percent of the default disk kept free of replicas.',
    default: 30,
    min: 0,
    max: 100,
  },
  'disable-scheduling-on-cordoned-node': {
    type: 'bool',
    category: 'scheduling',
    displayName: 'Disable Scheduling On Cordoned Node',
    description: 'Place no new replica on a cordoned node.',
    default: true,
  },
  'allow-volume-creation-with-degraded-availability': {
    type: 'bool',
    category: 'scheduling',
    displayName: 'Allow Volume Creation with Degraded Availability',
    description: 'Create and attach a volume even if not all its replicas can be placed.',
    default: true,
  },
  'allow-empty-node-selector-volume': {
    type: 'bool',
    category: 'scheduling',
    displayName: 'Allow Scheduling Empty Node Selector Volumes To Any Node',
    description: 'A volume without a node selector may go to tagged nodes.',
    default: true,
  },
  'allow-empty-disk-selector-volume': {
    type: 'bool',
    category: 'scheduling',
    displayName: 'Allow Scheduling Empty Disk Selector Volumes To Any Disk',
    description: 'A volume without a disk selector may go to tagged disks.',
    default: true,
  },

  // longhorn-ts's own (Longhorn has no QoS)
  'default-volume-qos': {
    type: 'string',
    category: 'general',
    displayName: 'Default Volume QoS Limits',
    description:
      'QoS limits a new volume gets when its spec and StorageClass give none (longhorn-ts extension; empty: none).',
    default: '',
    required: false,
    format: 'qos-limits',
  },
  'node-rebuild-backup-mbytes-per-second': {
    type: 'int',
    category: 'general',
    displayName: 'Node Rebuild and Backup Bandwidth Limit',
    description:
      "MiB/s that replica rebuilds, backups, restores and clones may move through one node's replica servers together, shared by its disks; the front end's I/O is never counted (longhorn-ts extension; 0: no limit).",
    default: 0,
    min: 0,
  },

  // Snapshot
  'snapshot-max-count': {
    type: 'int',
    category: 'snapshot',
    displayName: 'Snapshot Maximum Count',
    description: 'Snapshots a volume may have, the volume head not counted.',
    default: 250,
    min: 2,
    max: 250,
  },
  'snapshot-count-warning-threshold': {
    type: 'int',
    category: 'snapshot',
    displayName: 'Snapshot Count Warning Threshold',
    description: 'Snapshot count at which a volume gets a TooManySnapshots condition.',
    default: 100,
    min: 2,
    max: 250,
  },
  'snapshot-data-integrity': {
    type: 'string',
    category: 'snapshot',
    displayName: 'Snapshot Data Integrity',
    description: 'Hash snapshots and check replicas against each other.',
    default: 'fast-check',
    choices: ['disabled', 'enabled', 'fast-check'],
    dataEngines: BOTH,
  },
  'snapshot-data-integrity-immediate-check-after-snapshot-creation': {
    type: 'bool',
    category: 'snapshot',
    displayName: 'Immediate Snapshot Data Integrity Check After Creating a Snapshot',
    description: 'Hash a snapshot right after it is taken.',
    default: false,
    dataEngines: BOTH,
  },
  'snapshot-data-integrity-cronjob': {
    type: 'string',
    category: 'snapshot',
    displayName: 'Snapshot Data Integrity Check CronJob',
    description: 'When snapshots are hashed and checked.',
    default: '0 0 */7 * *',
    format: 'cron',
    dataEngines: BOTH,
  },
  'auto-cleanup-system-generated-snapshot': {
    type: 'bool',
    category: 'snapshot',
    displayName: 'Automatically Cleanup System Generated Snapshot',
    description: 'Remove the snapshots a rebuild took once it is done.',
    default: true,
  },
  'auto-cleanup-recurring-job-backup-snapshot': {
    type: 'bool',
    category: 'snapshot',
    displayName: 'Automatically Cleanup Recurring Job Backup Snapshot',
    description: 'Remove the snapshot a recurring backup took once the backup is done.',
    default: true,
  },
  'freeze-filesystem-for-snapshot': {
    type: 'bool',
    category: 'snapshot',
    displayName: 'Freeze Filesystem For Snapshot',
    description: 'Freeze the file system on the volume while a user snapshot is taken.',
    default: false,
    dataEngines: V1,
  },
  'auto-cleanup-when-delete-backup': {
    type: 'bool',
    category: 'snapshot',
    displayName: 'Automatically Cleanup Snapshot When Deleting Backup',
    description: 'Remove the snapshot of a backup when the backup is deleted.',
    default: false,
  },
  'auto-cleanup-snapshot-after-on-demand-backup-completed': {
    type: 'bool',
    category: 'snapshot',
    displayName: 'Automatically Cleanup Snapshot After On-Demand Backup Completed',
    description: 'Remove the snapshot of an on-demand backup once the backup is done.',
    default: false,
  },

  // Backup
  'backup-target': {
    type: 'string',
    category: 'backup',
    displayName: 'Default Backup Target',
    description:
      'URL of the default backup target (s3://bucket@region/path, nfs://server:/path). Longhorn 1.8 moved it to the BackupTarget "default".',
    default: '',
    required: false,
    format: 'backup-target-url',
  },
  'backup-target-credential-secret': {
    type: 'string',
    category: 'backup',
    displayName: 'Default Backup Target Credential Secret',
    description: 'Secret with the credentials of the default backup target (moved like backup-target).',
    default: '',
    required: false,
    format: 'dns-subdomain',
  },
  'backupstore-poll-interval': {
    type: 'int',
    category: 'backup',
    displayName: 'Default Backupstore Poll Interval',
    description:
      'Seconds between syncs with the default backup target; 0 stops them (moved like backup-target).',
    default: 300,
    min: 0,
  },
  'allow-recurring-job-while-volume-detached': {
    type: 'bool',
    category: 'backup',
    displayName: 'Allow Recurring Job While Volume Is Detached',
    description: 'Attach a detached volume for its recurring snapshot or backup.',
    default: false,
  },
  'failed-backup-ttl': {
    type: 'int',
    category: 'backup',
    displayName: 'Failed Backup Time to Live',
    description: 'Minutes a failed backup is kept; 0 keeps it.',
    default: 1440,
    min: 0,
  },
  'backup-execution-timeout': {
    type: 'int',
    category: 'backup',
    displayName: 'Backup Execution Timeout',
    description: 'Minutes a backup may make no progress before it fails.',
    default: 1,
    min: 1,
  },
  'restore-volume-recurring-jobs': {
    type: 'bool',
    category: 'backup',
    displayName: 'Restore Volume Recurring Jobs',
    description: 'Recreate the recurring jobs of a backup when restoring it.',
    default: false,
  },
  'recurring-successful-jobs-history-limit': {
    type: 'int',
    category: 'backup',
    displayName: 'Cronjob Successful Jobs History Limit',
    description: 'Finished recurring job runs kept.',
    default: 1,
    min: 0,
    required: false,
  },
  'recurring-failed-jobs-history-limit': {
    type: 'int',
    category: 'backup',
    displayName: 'Cronjob Failed Jobs History Limit',
    description: 'Failed recurring job runs kept.',
    default: 1,
    min: 0,
    required: false,
  },
  'recurring-job-max-retention': {
    type: 'int',
    category: 'backup',
    displayName: 'Maximum Retention Number for Recurring Job',
    description: 'The most snapshots or backups a recurring job may retain.',
    default: 100,
    min: 1,
    max: 250,
  },
  'backup-compression-method': {
    type: 'string',
    category: 'backup',
    displayName: 'Backup Compression Method',
    description: 'How backup blocks are compressed.',
    default: 'lz4',
    choices: ['none', 'lz4', 'gzip'],
  },
  'backup-concurrent-limit': {
    type: 'int',
    category: 'backup',
    displayName: 'Backup Concurrent Limit Per Backup',
    description: 'Blocks uploaded at once by one backup.',
    default: 2,
    min: 1,
  },
  'restore-concurrent-limit': {
    type: 'int',
    category: 'backup',
    displayName: 'Restore Concurrent Limit Per Backup',
    description: 'Blocks downloaded at once by one restore.',
    default: 2,
    min: 1,
  },
  'default-backup-block-size': {
    type: 'int',
    category: 'backup',
    displayName: 'Default Backup Block Size',
    description: 'Backup block size in MiB for new volumes.',
    default: 2,
    choices: [2, 16],
  },

  // Orphans
  'orphan-resource-auto-deletion': {
    type: 'string',
    category: 'orphan',
    displayName: 'Orphan Resource Auto-Deletion',
    description: 'Orphan kinds deleted automatically, semicolon-separated: replica-data, instance.',
    default: '',
    required: false,
    format: 'orphan-resource-types',
  },
  'orphan-resource-auto-deletion-grace-period': {
    type: 'int',
    category: 'orphan',
    displayName: 'Orphan Resource Auto-Deletion Grace Period',
    description: 'Seconds an orphan waits before it is deleted automatically.',
    default: 300,
    min: 0,
  },

  // Danger zone
  'concurrent-replica-rebuild-per-node-limit': {
    type: 'int',
    category: 'danger Zone',
    displayName: 'Concurrent Replica Rebuild Per Node Limit',
    description: 'Replica rebuilds at once per node; 0 stops rebuilding.',
    default: 5,
    min: 0,
  },
  'concurrent-backing-image-replenish-per-node-limit': {
    type: 'int',
    category: 'danger Zone',
    displayName: 'Concurrent Backing Image Replenish Per Node Limit',
    description: 'Backing image copies made at once per node; 0 stops them.',
    default: 5,
    min: 0,
  },
  'taint-toleration': {
    type: 'string',
    category: 'danger Zone',
    displayName: 'Kubernetes Taint Toleration',
    description: 'Tolerations of the system pods: key=value:effect or key:effect, separated by semicolons.',
    default: '',
    required: false,
    format: 'taint-tolerations',
  },
  'system-managed-components-node-selector': {
    type: 'string',
    category: 'danger Zone',
    displayName: 'System Managed Components Node Selector',
    description: 'Node selector of the system pods: key:value pairs separated by semicolons.',
    default: '',
    required: false,
    format: 'node-selector',
  },
  'system-managed-csi-components-resource-limits': {
    type: 'string',
    category: 'danger Zone',
    displayName: 'System Managed CSI Components Resource Limits',
    description: 'Resource requests and limits of the CSI sidecars, as JSON.',
    default: '',
    required: false,
  },
  'priority-class': {
    type: 'string',
    category: 'danger Zone',
    displayName: 'Priority Class',
    description: 'Priority class of the system pods.',
    default: '',
    required: false,
    format: 'dns-subdomain',
  },
  'guaranteed-instance-manager-cpu': {
    type: 'float',
    category: 'danger Zone',
    displayName: 'Guaranteed Instance Manager CPU',
    description: 'Percent of a node CPU reserved for its instance manager.',
    default: 12,
    min: 0,
    max: 40,
    dataEngines: BOTH,
  },
  'storage-network': {
    type: 'string',
    category: 'danger Zone',
    displayName: 'Storage Network',
    description: 'Multus network (<namespace>/<name>) for replica traffic; empty: the pod network.',
    default: '',
    required: false,
    format: 'cni-network',
  },
  'endpoint-network-for-rwx-volume': {
    type: 'string',
    category: 'danger Zone',
    displayName: 'Endpoint Network for RWX Volume',
    description: 'Multus network (<namespace>/<name>) for RWX volume endpoints.',
    default: '',
    required: false,
    format: 'cni-network',
  },
  'engine-image-pod-liveness-probe-period': {
    type: 'int',
    category: 'danger Zone',
    displayName: 'Engine Image Pod Liveness Probe Period',
    description: 'Seconds between liveness probes of engine image pods.',
    default: 5,
    min: 1,
    max: 60,
  },
  'engine-image-pod-liveness-probe-timeout': {
    type: 'int',
    category: 'danger Zone',
    displayName: 'Engine Image Pod Liveness Probe Timeout',
    description: 'Seconds a liveness probe of an engine image pod may take.',
    default: 4,
    min: 1,
    max: 60,
  },
  'engine-image-pod-liveness-probe-failure-threshold': {
    type: 'int',
    category: 'danger Zone',
    displayName: 'Engine Image Pod Liveness Probe Failure Threshold',
    description: 'Failed probes before an engine image pod is restarted.',
    default: 3,
    min: 1,
    max: 60,
  },
  'instance-manager-pod-liveness-probe-timeout': {
    type: 'int',
    category: 'danger Zone',
    displayName: 'Instance Manager Pod Liveness Probe Timeout',
    description: 'Seconds a liveness probe of an instance manager may take.',
    default: 10,
    min: 1,
    max: 60,
  },
  'v1-data-engine': {
    type: 'bool',
    category: 'danger Zone',
    displayName: 'V1 Data Engine',
    description: 'Enable the v1 data engine (the one longhorn-ts implements).',
    default: true,
  },
  'v2-data-engine': {
    type: 'bool',
    category: 'danger Zone',
    displayName: 'V2 Data Engine',
    description: 'Enable the v2 (SPDK) data engine; longhorn-ts has none.',
    default: false,
  },
  'data-engine-hugepage-enabled': {
    type: 'bool',
    category: 'danger Zone',
    displayName: 'Data Engine Hugepage Enabled',
    description: 'Back the v2 data engine memory with huge pages.',
    default: true,
    dataEngines: V2,
  },
  'data-engine-memory-size': {
    type: 'int',
    category: 'danger Zone',
    displayName: 'Data Engine Memory Size',
    description: 'MiB of memory for the v2 data engine.',
    default: 2048,
    min: 0,
    dataEngines: V2,
  },
  'data-engine-iobuf-large-pool-size': {
    type: 'int',
    category: 'danger Zone',
    displayName: 'Data Engine iobuf Large Pool Size',
    description: 'Large I/O buffers of the v2 data engine.',
    default: 1024,
    min: 1024,
    dataEngines: V2,
  },
  'data-engine-iobuf-small-pool-size': {
    type: 'int',
    category: 'danger Zone',
    displayName: 'Data Engine iobuf Small Pool Size',
    description: 'Small I/O buffers of the v2 data engine.',
    default: 8192,
    min: 8192,
    dataEngines: V2,
  },
  'data-engine-cpu-mask': {
    type: 'string',
    category: 'danger Zone',
    displayName: 'Data Engine CPU Mask',
    description: 'CPUs of the v2 data engine, as a hex mask such as 0x3.',
    default: '0x3',
    format: 'cpu-mask',
    dataEngines: V2,
  },
  'data-engine-number-of-cpu-cores': {
    type: 'int',
    category: 'danger Zone',
    displayName: 'Data Engine Number of CPU Cores',
    description: 'CPU cores of the v2 data engine; 0: use the CPU mask.',
    default: 0,
    min: 0,
    dataEngines: V2,
  },
  'data-engine-interrupt-mode-enabled': {
    type: 'bool',
    category: 'danger Zone',
    displayName: 'Enable Interrupt Mode for Data Engine',
    description: 'Run the v2 data engine in interrupt instead of polling mode.',
    default: false,
    dataEngines: V2,
  },
  'data-engine-cpu-isolation-enabled': {
    type: 'bool',
    category: 'danger Zone',
    displayName: 'Enable Host CPU Isolation for Data Engine',
    description: 'Keep host interrupts off the CPUs of the v2 data engine.',
    default: true,
    dataEngines: V2,
  },
  'disable-snapshot-purge': {
    type: 'bool',
    category: 'danger Zone',
    displayName: 'Disable Snapshot Purge',
    description: 'Never fold removed snapshots into their neighbours (e.g. while restoring data by hand).',
    default: false,
  },
  'log-path': {
    type: 'string',
    category: 'danger Zone',
    displayName: 'Log Path',
    description: 'Directory of the log files on each node.',
    default: `${DEFAULT_DATA_PATH}/logs`,
    format: 'control-path',
  },

  // System info (set by the system)
  'current-longhorn-version': {
    type: 'string',
    category: 'system info',
    displayName: 'Current Longhorn Version',
    description: 'Version of the running release.',
    default: '',
    readOnly: true,
    required: false,
  },
  'latest-longhorn-version': {
    type: 'string',
    category: 'system info',
    displayName: 'Latest Longhorn Version',
    description: 'Newest release the upgrade checker found.',
    default: '',
    readOnly: true,
    required: false,
  },
  'stable-longhorn-versions': {
    type: 'string',
    category: 'system info',
    displayName: 'Stable Longhorn Versions',
    description: 'Stable releases the upgrade checker found.',
    default: '',
    readOnly: true,
    required: false,
  },
  'crd-api-version': {
    type: 'string',
    category: 'system info',
    displayName: 'Custom Resource API Version',
    description: 'API version of the stored custom resources.',
    default: LONGHORN_API_VERSION,
    readOnly: true,
  },
  'default-engine-image': {
    type: 'string',
    category: 'system info',
    displayName: 'Default Engine Image',
    description: 'Engine image the manager was started with.',
    default: '',
    readOnly: true,
  },
  'default-instance-manager-image': {
    type: 'deprecated',
    category: 'system info',
    displayName: 'Default Instance Manager Image',
    description: 'Instance manager image the manager was started with.',
    default: '',
    readOnly: true,
  },
  'default-backing-image-manager-image': {
    type: 'deprecated',
    category: 'system info',
    displayName: 'Default Backing Image Manager Image',
    description: 'Backing image manager image the manager was started with.',
    default: '',
    readOnly: true,
  },
  'support-bundle-manager-image': {
    type: 'string',
    category: 'system info',
    displayName: 'Support Bundle Manager Image',
    description: 'Image that collects support bundles.',
    default: '',
  },
} as const satisfies Record<string, SettingSpec>;

export type SettingName = keyof typeof SETTING_DEFINITIONS;
export const SETTING_NAMES = Object.keys(SETTING_DEFINITIONS) as SettingName[];

type ValueOfSpec<S> = S extends { type: 'bool' }
  ? boolean
  : S extends { type: 'int' | 'float' }
    ? number
    : S extends { choices: readonly (infer C)[] }
      ? C
      : string;

/** The typed value of a setting: boolean, number, one of its choices, or a string. */
export type SettingValue<N extends SettingName> = ValueOfSpec<(typeof SETTING_DEFINITIONS)[N]>;

export function isSettingName(name: string): name is SettingName {
  return Object.hasOwn(SETTING_DEFINITIONS, name);
}

export function settingDefinition(name: SettingName): SettingSpec {
  return SETTING_DEFINITIONS[name];
}

export type SettingCheck = { ok: true } | { ok: false; error: string };

/** Thrown by `parseSetting` for a value `validateSetting` refuses. */
export class InvalidSettingError extends Error {
  readonly code = 'INVALID_SETTING';
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(message);
  }
}

/** Is `value` valid for the setting `name`? The error says what to write instead. */
export function validateSetting(name: string, value: string): SettingCheck {
  const parsed = parse(name, value);
  return 'error' in parsed ? { ok: false, error: parsed.error } : { ok: true };
}

/** The typed value of a setting (the v1 data engine's, for a per-engine JSON value). */
export function parseSetting<N extends SettingName>(name: N, value: string): SettingValue<N> {
  const parsed = parse(name, value);
  if ('error' in parsed) throw new InvalidSettingError(name, parsed.error);
  return parsed.value as SettingValue<N>;
}

/** Every setting's default as the string a Setting object holds, read-only ones left out. */
export function defaultSettings(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of SETTING_NAMES) {
    const spec: SettingSpec = SETTING_DEFINITIONS[name];
    const value = String(spec.default);
    if (spec.readOnly || (value === '' && spec.required !== false)) continue;
    out[name] = value;
  }
  return out;
}

/** The default Settings as objects to apply, one per entry of `defaultSettings()`. */
export function defaultSettingObjects(namespace: string = NAMESPACE): Setting[] {
  return Object.entries(defaultSettings()).map(([name, value]) => ({
    apiVersion: LONGHORN_API_VERSION,
    kind: 'Setting',
    metadata: { name, namespace },
    value,
  }));
}

type Parsed = { value: boolean | number | string } | { error: string };

function parse(name: string, raw: string): Parsed {
  if (!isSettingName(name)) {
    const near = closestSettingName(name);
    return {
      error: `unknown setting "${name}"${near ? `; did you mean "${near}"?` : ''} (the known ones: kubectl -n longhorn-system get lhs)`,
    };
  }
  const spec: SettingSpec = SETTING_DEFINITIONS[name];
  const value = raw.trim();
  const expected = describeExpected(spec);
  if (value === '') {
    if (spec.required === false) return { value: emptyValue(spec) };
    return { error: `setting ${name} needs a value: ${expected}` };
  }
  if (spec.dataEngines && value.startsWith('{')) return parsePerEngine(name, spec, value, expected);
  return parseOne(name, spec, value, expected);
}

function parsePerEngine(name: string, spec: SettingSpec, value: string, expected: string): Parsed {
  const engines = spec.dataEngines ?? DATA_ENGINES;
  let values: unknown;
  try {
    values = JSON.parse(value);
  } catch {
    return {
      error: `setting ${name}: ${value} is not valid JSON; write ${perEngineExample(spec)} or a plain value`,
    };
  }
  if (values === null || typeof values !== 'object' || Array.isArray(values)) {
    return { error: `setting ${name}: write a JSON object such as ${perEngineExample(spec)}` };
  }
  let result: Parsed | undefined;
  for (const [engine, engineValue] of Object.entries(values)) {
    if (!(engines as readonly string[]).includes(engine)) {
      return { error: `setting ${name}: data engine "${engine}" does not apply; use ${engines.join(', ')}` };
    }
    if (typeof engineValue !== 'string') {
      return {
        error: `setting ${name}: the ${engine} value must be a string, as in ${perEngineExample(spec)}`,
      };
    }
    const parsed = parseOne(name, spec, engineValue.trim(), expected, engine);
    if ('error' in parsed) return parsed;
    if (result === undefined || engine === 'v1') result = parsed;
  }
  return (
    result ?? {
      error: `setting ${name}: give a value for ${engines.join(', ')}, e.g. ${perEngineExample(spec)}`,
    }
  );
}

function parseOne(name: string, spec: SettingSpec, value: string, expected: string, engine?: string): Parsed {
  const what = `setting ${name}${engine ? ` (${engine})` : ''}`;
  switch (spec.type) {
    case 'bool': {
      const parsed = parseGoBool(value);
      return parsed === undefined
        ? { error: `${what}: "${value}" is not a boolean; use ${expected}` }
        : { value: parsed };
    }
    case 'int': {
      if (!/^[+-]?\d+$/.test(value))
        return { error: `${what}: "${value}" is not an integer; use ${expected}` };
      const parsed = Number(value);
      const problem = numberProblem(parsed, spec.min, spec.max) ?? choiceProblem(parsed, spec.choices);
      return problem ? { error: `${what}: ${problem}; use ${expected}` } : { value: parsed };
    }
    case 'float': {
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(value)) {
        return { error: `${what}: "${value}" is not a number; use ${expected}` };
      }
      const parsed = Number(value);
      const problem = numberProblem(parsed, spec.min, spec.max);
      return problem ? { error: `${what}: ${problem}; use ${expected}` } : { value: parsed };
    }
    case 'string': {
      const problem =
        choiceProblem(value, spec.choices) ?? (spec.format && formatProblem(spec.format, value));
      return problem ? { error: `${what}: ${problem}` } : { value };
    }
    case 'deprecated':
      return { value };
  }
}

/** strconv.ParseBool's spellings, which Longhorn accepts. */
function parseGoBool(value: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  return undefined;
}

function numberProblem(value: number, min?: number, max?: number): string | undefined {
  if (min !== undefined && value < min) return `${value} is below the minimum ${min}`;
  if (max !== undefined && value > max) return `${value} is above the maximum ${max}`;
  return undefined;
}

function choiceProblem<T extends string | number>(value: T, choices?: readonly T[]): string | undefined {
  if (!choices || choices.includes(value)) return undefined;
  return `"${value}" is not one of ${choices.join(', ')}`;
}

function emptyValue(spec: SettingSpec): boolean | number | string {
  if (spec.type === 'bool') return false;
  if (spec.type === 'int' || spec.type === 'float') return 0;
  return '';
}

function describeExpected(spec: SettingSpec): string {
  switch (spec.type) {
    case 'bool':
      return '"true" or "false"';
    case 'int':
      if (spec.choices) return `one of ${spec.choices.join(', ')}`;
      return `${range('an integer', spec.min, spec.max)}`;
    case 'float':
      return range('a number', spec.min, spec.max);
    case 'string':
      if (spec.choices) return `one of ${spec.choices.join(', ')}`;
      return spec.format ? FORMAT_HINTS[spec.format] : 'a string';
    case 'deprecated':
      return 'any string (the setting is deprecated)';
  }
}

function range(noun: string, min?: number, max?: number): string {
  if (min !== undefined && max !== undefined) return `${noun} from ${min} to ${max}`;
  if (min !== undefined) return `${noun} of at least ${min}`;
  if (max !== undefined) return `${noun} of at most ${max}`;
  return noun;
}

function perEngineExample(spec: SettingSpec): string {
  const engines = spec.dataEngines ?? DATA_ENGINES;
  return `{${engines.map((e) => `"${e}":"${String(spec.default)}"`).join(',')}}`;
}

const FORMAT_HINTS: Record<StringFormat, string> = {
  'qos-limits': 'KEY=N pairs separated by ",", e.g. iops=1000,writeBandwidth=10485760, or nothing',
  cron: 'a five-field cron schedule such as "0 0 */7 * *"',
  'backup-target-url': 'a URL such as s3://bucket@region/path or nfs://server:/path, or nothing',
  'dns-subdomain': 'a Kubernetes object name (lower-case letters, digits, "-" and ".")',
  'data-path': 'an absolute directory path other than /',
  'control-path': 'an absolute directory path other than / and outside /dev',
  'taint-tolerations': 'tolerations key=value:effect or key:effect separated by ";"',
  'node-selector': 'key:value pairs separated by ";"',
  'orphan-resource-types': 'orphan types separated by ";": replica-data, instance',
  'http-url': 'an http:// or https:// URL',
  'cni-network': 'a network attachment as <namespace>/<name>, or nothing',
  'cpu-mask': 'a hexadecimal CPU mask such as 0x3',
};

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const BACKUP_TARGET_SCHEMES = ['s3', 'nfs', 'cifs', 'azblob'];
const TAINT_EFFECTS = ['', 'NoExecute', 'NoSchedule', 'PreferNoSchedule'];
const ORPHAN_RESOURCE_TYPES = ['replica-data', 'instance'];

/** What is wrong with a string value of a format, as a phrase that says what to write instead. */
function formatProblem(format: StringFormat, value: string): string | undefined {
  const hint = FORMAT_HINTS[format];
  const bad = (why: string) => `${why}; use ${hint}`;
  switch (format) {
    case 'cron': {
      const check = validateCron(value);
      return check.ok ? undefined : check.error;
    }
    case 'backup-target-url': {
      const scheme = /^([a-z0-9]+):\/\/(.*)$/.exec(value);
      if (!scheme) return bad(`"${value}" is not a URL`);
      if (!BACKUP_TARGET_SCHEMES.includes(scheme[1] ?? '')) {
        return bad(`scheme "${scheme[1]}" is not one of ${BACKUP_TARGET_SCHEMES.join(', ')}`);
      }
      const forbidden = scheme[1] === 'cifs' ? /,/ : /[$,]/;
      const path = scheme[2]?.replace(/^[^/]*/, '') ?? '';
      if (forbidden.test(path)) return bad(`the path of "${value}" holds "$" or ","`);
      return undefined;
    }
    case 'dns-subdomain':
      return DNS_SUBDOMAIN.test(value) && value.length <= 253
        ? undefined
        : bad(`"${value}" is not a valid name`);
    case 'data-path':
    case 'control-path': {
      const clean = value.replace(/\/+$/, '');
      if (!value.startsWith('/') || clean === '')
        return bad(`"${value}" is not an absolute path other than /`);
      if (format === 'control-path' && (clean === '/dev' || clean.startsWith('/dev/'))) {
        return bad(`"${value}" is under /dev`);
      }
      return undefined;
    }
    case 'taint-tolerations':
      for (const toleration of value.replaceAll(' ', '').split(';')) {
        const parts = toleration.split(':');
        if (parts.length !== 2) return bad(`"${toleration}" is not key=value:effect or key:effect`);
        if (!TAINT_EFFECTS.includes(parts[1] ?? '')) {
          return bad(`effect "${parts[1]}" is not one of NoExecute, NoSchedule, PreferNoSchedule`);
        }
      }
      return undefined;
    case 'node-selector':
      for (const label of value.split(';')) {
        if (label.trim().split(':').length !== 2) return bad(`"${label.trim()}" is not key:value`);
      }
      return undefined;
    case 'orphan-resource-types': {
      const unknown = value
        .split(';')
        .map((t) => t.trim())
        .filter((t) => !ORPHAN_RESOURCE_TYPES.includes(t));
      return unknown.length > 0 ? bad(`unknown orphan types ${unknown.join(', ')}`) : undefined;
    }
    case 'http-url':
      return /^https?:\/\/[^\s/]+/.test(value) ? undefined : bad(`"${value}" is not an http(s) URL`);
    case 'cni-network':
      return /^[a-z0-9-]+\/[a-z0-9.-]+$/.test(value)
        ? undefined
        : bad(`"${value}" is not <namespace>/<name>`);
    case 'cpu-mask':
      return /^0x[0-9a-fA-F]+$/.test(value) ? undefined : bad(`"${value}" is not a hexadecimal mask`);
    case 'qos-limits': {
      const parsed = parseQosSetting(value);
      return 'problem' in parsed ? bad(parsed.problem) : undefined;
    }
  }
}

/** The known name nearest to `name`, if it is near enough to be a typo. */
function closestSettingName(name: string): SettingName | undefined {
  let best: SettingName | undefined;
  let bestDistance = Math.max(3, Math.floor(name.length / 4)) + 1;
  for (const candidate of SETTING_NAMES) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
