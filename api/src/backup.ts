/** Backup (lhb): one backup of one snapshot in a backup target. Schema now, controller later. */
import type { LonghornResource } from './object-meta.js';
import { dateTime, enumOf, enumOrEmpty, int, map, obj, str } from './schema/builders.js';
import { AGE_COLUMN, type ResourceDefinition } from './schema/crd.js';
import type { Infer } from './schema/json-schema.js';
import type { Expect, SameShape } from './schema/schema-match.js';

export const BACKUP_STATES = ['Pending', 'InProgress', 'Completed', 'Error', 'Unknown', 'Deleting'] as const;
export type BackupState = (typeof BACKUP_STATES)[number];

/** lz4 is Longhorn's default (setting backup-compression-method). */
export const BACKUP_COMPRESSION_METHODS = ['none', 'lz4', 'gzip'] as const;
export type BackupCompressionMethod = (typeof BACKUP_COMPRESSION_METHODS)[number];

export const BACKUP_MODES = ['full', 'incremental'] as const;
export type BackupMode = (typeof BACKUP_MODES)[number];

/** Backup block sizes in bytes (2 MiB, 16 MiB), as strings as Longhorn has them. */
export const BACKUP_BLOCK_SIZES = ['2097152', '16777216'] as const;
export type BackupBlockSize = (typeof BACKUP_BLOCK_SIZES)[number];
/** On a Backup, "-1" marks a block size that could not be read. */
export const INVALID_BACKUP_BLOCK_SIZE = '-1';

export interface BackupSpec {
  /** Set to ask for a sync with the backup target. */
  syncRequestedAt?: string;
  snapshotName?: string;
  labels?: Record<string, string>;
  backupMode?: BackupMode | '';
  backupBlockSize?: BackupBlockSize | typeof INVALID_BACKUP_BLOCK_SIZE;
}

export interface BackupStatus {
  ownerID?: string;
  state?: BackupState | '';
  /** Percent done. */
  progress?: number;
  replicaAddress?: string;
  error?: string;
  url?: string;
  snapshotName?: string;
  snapshotCreatedAt?: string;
  backupCreatedAt?: string;
  /** Bytes, as a string. */
  size?: string;
  labels?: Record<string, string>;
  messages?: Record<string, string>;
  volumeName?: string;
  volumeSize?: string;
  volumeCreated?: string;
  volumeBackingImageName?: string;
  lastSyncedAt?: string;
  compressionMethod?: BackupCompressionMethod | '';
  /** Bytes uploaded for this backup (Longhorn spells the key "newlyUploadDataSize"). */
  newlyUploadDataSize?: string;
  reUploadedDataSize?: string;
  backupTargetName?: string;
}

export type Backup = LonghornResource<'Backup', BackupSpec, BackupStatus>;

const backupSpec = obj({
  syncRequestedAt: dateTime({ nullable: true }),
  snapshotName: str(),
  labels: map(str()),
  backupMode: enumOrEmpty(BACKUP_MODES),
  backupBlockSize: enumOf([...BACKUP_BLOCK_SIZES, INVALID_BACKUP_BLOCK_SIZE]),
});

const backupStatus = obj({
  ownerID: str(),
  state: enumOrEmpty(BACKUP_STATES),
  progress: int({ min: 0, max: 100 }),
  replicaAddress: str(),
  error: str(),
  url: str(),
  snapshotName: str(),
  snapshotCreatedAt: str(),
  backupCreatedAt: str(),
  size: str(),
  labels: map(str(), { nullable: true }),
  messages: map(str(), { nullable: true }),
  volumeName: str(),
  volumeSize: str(),
  volumeCreated: str(),
  volumeBackingImageName: str(),
  lastSyncedAt: dateTime({ nullable: true }),
  compressionMethod: enumOrEmpty(BACKUP_COMPRESSION_METHODS),
  newlyUploadDataSize: str(),
  reUploadedDataSize: str(),
  backupTargetName: str(),
});

type _SpecCheck = Expect<SameShape<BackupSpec, Infer<typeof backupSpec>>>;
type _StatusCheck = Expect<SameShape<BackupStatus, Infer<typeof backupStatus>>>;

export const backupResource: ResourceDefinition = {
  kind: 'Backup',
  plural: 'backups',
  shortNames: ['lhb'],
  description: 'A backup of one snapshot of a volume, stored in a backup target.',
  properties: { spec: backupSpec, status: backupStatus },
  printerColumns: [
    {
      name: 'SnapshotName',
      type: 'string',
      jsonPath: '.status.snapshotName',
      description: 'The snapshot name',
    },
    { name: 'SnapshotSize', type: 'string', jsonPath: '.status.size', description: 'The snapshot size' },
    {
      name: 'SnapshotCreatedAt',
      type: 'string',
      jsonPath: '.status.snapshotCreatedAt',
      description: 'The snapshot creation time',
    },
    {
      name: 'BackupTarget',
      type: 'string',
      jsonPath: '.status.backupTargetName',
      description: 'The backup target name',
    },
    { name: 'State', type: 'string', jsonPath: '.status.state', description: 'The backup state' },
    {
      name: 'LastSyncedAt',
      type: 'string',
      jsonPath: '.status.lastSyncedAt',
      description: 'The backup last synced time',
    },
    AGE_COLUMN,
  ],
};
