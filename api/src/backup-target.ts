/** BackupTarget (lhbt): where backups go (NFS path or S3 bucket). Schema now, controller later. */
import { type Condition, conditionsSchema } from './condition.js';
import type { LonghornResource } from './object-meta.js';
import { bool, dateTime, obj, str } from './schema/builders.js';
import type { ResourceDefinition } from './schema/crd.js';
import type { Infer } from './schema/json-schema.js';
import type { Expect, SameShape } from './schema/schema-match.js';

/** Longhorn creates a BackupTarget of this name; volumes without `backupTargetName` use it. */
export const DEFAULT_BACKUP_TARGET_NAME = 'default';

export const BACKUP_TARGET_CONDITION_TYPES = ['Unavailable'] as const;

export interface BackupTargetSpec {
  /** `s3://bucket@region/path`, `nfs://server:/path`, `cifs://...`, `azblob://...`; empty: none. */
  backupTargetURL?: string;
  /** Name of a Secret in longhorn-system with the target's credentials. */
  credentialSecret?: string;
  /** How often to sync with the target, a Go duration such as `5m0s`; `0s` stops polling. */
  pollInterval?: string;
  syncRequestedAt?: string;
}

export interface BackupTargetStatus {
  ownerID?: string;
  available?: boolean;
  conditions?: Condition[];
  lastSyncedAt?: string;
}

export type BackupTarget = LonghornResource<'BackupTarget', BackupTargetSpec, BackupTargetStatus>;

const backupTargetSpec = obj({
  backupTargetURL: str(),
  credentialSecret: str(),
  pollInterval: str(),
  syncRequestedAt: dateTime({ nullable: true }),
});

const backupTargetStatus = obj({
  ownerID: str(),
  available: bool(),
  conditions: conditionsSchema,
  lastSyncedAt: dateTime({ nullable: true }),
});

type _SpecCheck = Expect<SameShape<BackupTargetSpec, Infer<typeof backupTargetSpec>>>;
type _StatusCheck = Expect<SameShape<BackupTargetStatus, Infer<typeof backupTargetStatus>>>;

export const backupTargetResource: ResourceDefinition = {
  kind: 'BackupTarget',
  plural: 'backuptargets',
  shortNames: ['lhbt'],
  description: 'A backup store (NFS or S3) that backups are written to and read from.',
  properties: { spec: backupTargetSpec, status: backupTargetStatus },
  printerColumns: [
    { name: 'URL', type: 'string', jsonPath: '.spec.backupTargetURL', description: 'The backup target URL' },
    {
      name: 'Credential',
      type: 'string',
      jsonPath: '.spec.credentialSecret',
      description: 'The backup target credential secret',
    },
    {
      name: 'LastBackupAt',
      type: 'string',
      jsonPath: '.spec.pollInterval',
      description: 'The backup target poll interval',
    },
    {
      name: 'Available',
      type: 'boolean',
      jsonPath: '.status.available',
      description: 'Indicate whether the backup target is available or not',
    },
    {
      name: 'LastSyncedAt',
      type: 'string',
      jsonPath: '.status.lastSyncedAt',
      description: 'The backup target last synced time',
    },
  ],
};
