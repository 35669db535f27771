/**
 * The objects `backup create` and `backup restore` send, built as Longhorn's manager builds them
 * (pure): a Backup CR named `backup-<16 hex>` labelled with its volume and target, and a Volume
 * whose `fromBackup` is the backup's URL, sized as the backed-up volume was (when the Backup
 * says; otherwise the operator sizes it from the backup volume).
 */
import {
  type Backup,
  type BackupMode,
  DEFAULT_BACKUP_TARGET_NAME,
  LABEL_BACKUP_TARGET,
  LABEL_BACKUP_VOLUME,
  LONGHORN_API_VERSION,
  MAX_REPLICAS,
  MIN_REPLICAS,
  type Volume,
} from '@longhorn-ts/api';
import { PluginError, usageError } from '../errors.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Longhorn names a backup `backup-` and the first 16 hex digits of a UUID. */
export function backupName(random: () => number = Math.random): string {
  let hex = '';
  for (let i = 0; i < 16; i++) hex += Math.floor(random() * 16).toString(16);
  return `backup-${hex}`;
}

export interface BackupInput {
  name: string;
  namespace: string;
  volume: string;
  snapshot: string;
  /** The volume's spec.backupTargetName; empty means the default target. */
  target?: string | undefined;
  labels?: Record<string, string> | undefined;
  /** Longhorn's spec.backupMode: full uploads every block again; default incremental. */
  mode?: BackupMode | undefined;
}

export function backupObject(input: BackupInput): Backup {
  const target = input.target || DEFAULT_BACKUP_TARGET_NAME;
  return {
    apiVersion: LONGHORN_API_VERSION,
    kind: 'Backup',
    metadata: {
      name: input.name,
      namespace: input.namespace,
      labels: { [LABEL_BACKUP_VOLUME]: input.volume, [LABEL_BACKUP_TARGET]: target },
    },
    spec: {
      snapshotName: input.snapshot,
      ...(input.labels && Object.keys(input.labels).length > 0 && { labels: input.labels }),
      ...(input.mode !== undefined && { backupMode: input.mode }),
    },
  };
}

/** The volume a Backup CR is of: its label (as Longhorn's controllers read it), else its status. */
export function backupVolumeOf(backup: Backup): string {
  return backup.metadata.labels?.[LABEL_BACKUP_VOLUME] ?? backup.status?.volumeName ?? '';
}

export interface RestoreInput {
  name: string;
  namespace: string;
  backup: Backup;
  replicas?: number | undefined;
  standby?: boolean | undefined;
}

/**
 * A Volume restored from `backup`: fromBackup is the backup's URL, the size the backed-up
 * volume's. A standby (disaster-recovery) volume has no frontend, as Longhorn requires.
 */
export function restoreVolumeObject(input: RestoreInput): Volume {
  const { backup } = input;
  const name = backup.metadata.name;
  if (!DNS_LABEL.test(input.name)) {
    throw usageError(`volume name "${input.name}" must be lower-case letters, digits and '-', at most 63`);
  }
  const replicas = input.replicas;
  if (replicas !== undefined && (replicas < MIN_REPLICAS || replicas > MAX_REPLICAS)) {
    throw usageError(`--replicas ${replicas} is out of range; use ${MIN_REPLICAS} to ${MAX_REPLICAS}`);
  }
  const url = backup.status?.url ?? '';
  const state = backup.status?.state ?? '';
  if (state !== 'Completed' || url === '') {
    throw new PluginError(
      'REFUSED',
      `backup ${name} is ${state || 'not started'}${url === '' ? ' and has no URL yet' : ''}; only a Completed backup can be restored`,
    );
  }
  // Without the backed-up size the operator takes it from the backup volume (volume.cfg).
  const size = backup.status?.volumeSize ?? '';
  const known = /^\d+$/.test(size) && size !== '0';
  const target = backup.status?.backupTargetName || backup.metadata.labels?.[LABEL_BACKUP_TARGET] || '';
  return {
    apiVersion: LONGHORN_API_VERSION,
    kind: 'Volume',
    metadata: { name: input.name, namespace: input.namespace },
    spec: {
      ...(known && { size }),
      fromBackup: url,
      frontend: input.standby ? '' : 'blockdev',
      ...(input.standby && { Standby: true }),
      ...(replicas !== undefined && { numberOfReplicas: replicas }),
      ...(target !== '' && { backupTargetName: target }),
    },
  };
}
