/** BackupVolume (lhbv): the backups of one volume in one backup target. Schema now, controller later. */
import type { LonghornResource } from './object-meta.js';
import { dateTime, map, obj, str } from './schema/builders.js';
import type { ResourceDefinition } from './schema/crd.js';
import type { Infer } from './schema/json-schema.js';
import type { Expect, SameShape } from './schema/schema-match.js';

export interface BackupVolumeSpec {
  backupTargetName?: string;
  syncRequestedAt?: string;
  volumeName?: string;
}

export interface BackupVolumeStatus {
  ownerID?: string;
  lastModificationTime?: string;
  size?: string;
  labels?: Record<string, string>;
  createdAt?: string;
  lastBackupName?: string;
  lastBackupAt?: string;
  dataStored?: string;
  messages?: Record<string, string>;
  backingImageName?: string;
  backingImageChecksum?: string;
  storageClassName?: string;
  lastSyncedAt?: string;
}

export type BackupVolume = LonghornResource<'BackupVolume', BackupVolumeSpec, BackupVolumeStatus>;

const backupVolumeSpec = obj({
  backupTargetName: str({ nullable: true }),
  syncRequestedAt: dateTime({ nullable: true }),
  volumeName: str(),
});

const backupVolumeStatus = obj({
  ownerID: str(),
  lastModificationTime: dateTime({ nullable: true }),
  size: str(),
  labels: map(str(), { nullable: true }),
  createdAt: str(),
  lastBackupName: str(),
  lastBackupAt: str(),
  dataStored: str(),
  messages: map(str(), { nullable: true }),
  backingImageName: str(),
  backingImageChecksum: str(),
  storageClassName: str(),
  lastSyncedAt: dateTime({ nullable: true }),
});

type _SpecCheck = Expect<SameShape<BackupVolumeSpec, Infer<typeof backupVolumeSpec>>>;
type _StatusCheck = Expect<SameShape<BackupVolumeStatus, Infer<typeof backupVolumeStatus>>>;

export const backupVolumeResource: ResourceDefinition = {
  kind: 'BackupVolume',
  plural: 'backupvolumes',
  shortNames: ['lhbv'],
  description: 'The backups of one volume found in one backup target.',
  properties: { spec: backupVolumeSpec, status: backupVolumeStatus },
  printerColumns: [
    {
      name: 'BackupTarget',
      type: 'string',
      jsonPath: '.spec.backupTargetName',
      description: 'The backup target name',
    },
    {
      name: 'CreatedAt',
      type: 'string',
      jsonPath: '.status.createdAt',
      description: 'The backup volume creation time',
    },
    {
      name: 'LastBackupName',
      type: 'string',
      jsonPath: '.status.lastBackupName',
      description: 'The backup volume last backup name',
    },
    {
      name: 'LastBackupAt',
      type: 'string',
      jsonPath: '.status.lastBackupAt',
      description: 'The backup volume last backup time',
    },
    {
      name: 'LastSyncedAt',
      type: 'string',
      jsonPath: '.status.lastSyncedAt',
      description: 'The backup volume last synced time',
    },
  ],
};
