import { type Backup, LABEL_BACKUP_VOLUME } from '@longhorn-ts/api';
import { encodeBackupUrl } from '@longhorn-ts/dataplane/backup/backup-url';
import { type CsiSnapshot, timestamp } from '../csi-types.js';
import { CsiError } from '../errors.js';
import { SIZE_ALIGNMENT } from './sizes.js';
import { backupSnapshotId } from './snapshot-ids.js';

/**
 * A Backup CR seen as a CSI snapshot (`bak://<volume>/<backup>`): pure rules, the I/O is in
 * backup-snapshots.ts. Longhorn's semantics: the backup of snapshot S of volume V is the Backup
 * with label `backup-volume=V` and spec.snapshotName S; it is ready to use once its state is
 * Completed, and then status.url is the URL a volume restores from (spec.fromBackup).
 */

/** The volume a Backup belongs to: its `backup-volume` label, else what its status says. */
export function backupVolumeOf(backup: Backup): string {
  return backup.metadata.labels?.[LABEL_BACKUP_VOLUME] || backup.status?.volumeName || '';
}

/** The snapshot a Backup was taken of. */
export function backupSnapshotOf(backup: Backup): string {
  return backup.spec.snapshotName || backup.status?.snapshotName || '';
}

export type BackupProgress =
  | { state: 'ready' }
  | { state: 'pending'; detail: string }
  | { state: 'failed'; error: string };

/** Where a backup stands: Completed is ready, Error failed (with its message), anything else pending. */
export function backupProgress(backup: Backup): BackupProgress {
  const state = backup.status?.state ?? '';
  if (state === 'Completed') return { state: 'ready' };
  if (state === 'Error')
    return { state: 'failed', error: backup.status?.error || 'the backup failed (no message on the Backup)' };
  const progress = backup.status?.progress;
  return {
    state: 'pending',
    detail: `${state || 'not started'}${progress !== undefined && state === 'InProgress' ? `, ${progress}%` : ''}`,
  };
}

/** A size rounded up to the 2 MiB volumes are made of. */
const roundUp = (bytes: number) => Math.ceil(bytes / SIZE_ALIGNMENT) * SIZE_ALIGNMENT;

/**
 * The bytes a volume restored from the backup needs: the backed-up volume's size (Longhorn's
 * CSI answers it rounded up to 2 MiB), else `fallback` (the source volume's size while the
 * backup controller has not filled the status in yet).
 */
export function backupRestoreSize(backup: Backup, fallback: number): number {
  const size = Number(backup.status?.volumeSize ?? '');
  return roundUp(Number.isFinite(size) && size > 0 ? size : fallback);
}

/** The Backup as a CSI snapshot. */
export function csiSnapshotOfBackup(backup: Backup, volumeSize: number): CsiSnapshot {
  const volume = backupVolumeOf(backup);
  return {
    snapshotId: backupSnapshotId(volume, backup.metadata.name),
    sourceVolumeId: volume,
    sizeBytes: backupRestoreSize(backup, volumeSize),
    creationTime: timestamp(
      backup.status?.snapshotCreatedAt || backup.status?.backupCreatedAt || backup.metadata.creationTimestamp,
    ),
    readyToUse: backupProgress(backup).state === 'ready',
  };
}

/**
 * A CreateSnapshot answer for a backup that failed: an error, so the snapshotter records it on
 * the VolumeSnapshotContent and retries (Longhorn answers INTERNAL with the backup's error).
 */
export function backupFailure(backup: Backup, error: string): CsiError {
  return new CsiError(
    'INTERNAL',
    `backup ${backup.metadata.name} of snapshot ${backupSnapshotOf(backup)} of volume ${backupVolumeOf(backup)} failed: ${error}; ` +
      'delete the VolumeSnapshot and take a new one',
  );
}

/**
 * The URL a volume restores the backup from: status.url once the backup controller wrote it,
 * else built from the target's URL as Longhorn builds it (`<target>?backup=<b>&volume=<v>`);
 * undefined when neither is known.
 */
export function restoreUrlOf(backup: Backup, targetUrl: string | undefined): string | undefined {
  if (backup.status?.url) return backup.status.url;
  const volume = backupVolumeOf(backup);
  if (!targetUrl || !volume) return undefined;
  return encodeBackupUrl(targetUrl, volume, backup.metadata.name);
}

/** FAILED_PRECONDITION for a backup asked of a cluster without a backup target: says how to set one. */
export function noBackupTarget(targetName: string, volume: string): CsiError {
  return new CsiError(
    'FAILED_PRECONDITION',
    `volume ${volume} cannot be backed up: backup target "${targetName}" has no URL. Set one, e.g. ` +
      `kubectl -n longhorn-system patch backuptarget ${targetName} --type merge -p ` +
      `'{"spec":{"backupTargetURL":"s3://<bucket>@<region>/","credentialSecret":"<secret>"}}' ` +
      '(or nfs://<server>:/<path>), or use a VolumeSnapshotClass with parameters.type: snap',
  );
}
