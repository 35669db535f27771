/**
 * Backup CR status, pure: what a backup the store holds says on its CR, what a finished job says,
 * and what the controller does next with a Backup CR (start, wait, retry, nothing).
 */

import {
  type BackupCompressionMethod,
  type Backup as BackupResource,
  type BackupStatus,
  type BackupVolumeStatus,
  LABEL_BACKUP_VOLUME,
} from '@longhorn-ts/api';
import type { BackupConfig, BackupListEntry, VolumeConfig } from '@longhorn-ts/dataplane/backup/index';
import { DEFAULT_BLOCK_SIZE } from '@longhorn-ts/dataplane/backup/index';

const COMPRESSIONS = new Set(['none', 'lz4', 'gzip']);

function compression(m: string): BackupCompressionMethod | '' {
  return COMPRESSIONS.has(m) ? (m as BackupCompressionMethod) : '';
}

/** The status of a completed backup found in the store (a sync), over `prev`. */
export function statusFromStore(
  prev: BackupStatus | undefined,
  e: BackupListEntry,
  facts: { node: string; target: string; now: string },
): BackupStatus {
  return {
    ...prev,
    ownerID: prev?.ownerID || facts.node,
    state: 'Completed',
    progress: 100,
    error: '',
    url: e.url,
    snapshotName: e.snapshot,
    snapshotCreatedAt: e.snapshotCreatedAt,
    backupCreatedAt: e.created,
    size: String(e.size),
    labels: e.labels,
    volumeName: e.volume,
    volumeSize: String(e.volumeSize),
    compressionMethod: compression(e.compression),
    newlyUploadDataSize: String(e.newlyUploadedBytes),
    backupTargetName: facts.target,
    lastSyncedAt: facts.now,
  };
}

/** The fields a sync compares to tell whether a CR's status must be written again. */
export function syncedFieldsDiffer(a: BackupStatus | undefined, b: BackupStatus): boolean {
  if (a === undefined) return true;
  for (const k of [
    'state',
    'url',
    'snapshotName',
    'snapshotCreatedAt',
    'backupCreatedAt',
    'size',
    'volumeName',
    'volumeSize',
    'backupTargetName',
  ] as const) {
    if ((a[k] ?? '') !== (b[k] ?? '')) return true;
  }
  return false;
}

/** The status of a backup this operator just completed. */
export function statusOfCompleted(
  prev: BackupStatus | undefined,
  r: { url: string; backup: BackupConfig; volumeSize: number },
  facts: { node: string; target: string; now: string },
): BackupStatus {
  const b = r.backup;
  return {
    ...prev,
    ownerID: facts.node,
    state: 'Completed',
    progress: 100,
    error: '',
    url: r.url,
    snapshotName: b.SnapshotName,
    snapshotCreatedAt: b.SnapshotCreatedAt,
    backupCreatedAt: b.CreatedTime,
    size: String(b.Size),
    labels: b.Labels ?? {},
    volumeName: b.VolumeName,
    volumeSize: String(r.volumeSize),
    compressionMethod: compression(b.CompressionMethod),
    newlyUploadDataSize: String(b.NewlyUploadedDataSize),
    reUploadedDataSize: String(b.ReUploadedDataSize),
    backupTargetName: facts.target,
    lastSyncedAt: facts.now,
  };
}

/** BackupVolume status from the store's volume.cfg and its completed backups. */
export function backupVolumeStatus(
  prev: BackupVolumeStatus | undefined,
  vol: VolumeConfig,
  facts: { node: string; now: string },
): BackupVolumeStatus {
  return {
    ...prev,
    ownerID: facts.node,
    size: String(vol.Size),
    labels: vol.Labels ?? {},
    createdAt: vol.CreatedTime,
    lastBackupName: vol.LastBackupName,
    lastBackupAt: vol.LastBackupAt,
    dataStored: String(vol.BlockCount * DEFAULT_BLOCK_SIZE),
    storageClassName: vol.StorageClassName,
    backingImageName: vol.BackingImageName,
    backingImageChecksum: vol.BackingImageChecksum,
    lastSyncedAt: facts.now,
  };
}

export function backupVolumeStatusDiffers(a: BackupVolumeStatus | undefined, b: BackupVolumeStatus): boolean {
  if (a === undefined) return true;
  for (const k of [
    'size',
    'createdAt',
    'lastBackupName',
    'lastBackupAt',
    'dataStored',
    'storageClassName',
  ] as const)
    if ((a[k] ?? '') !== (b[k] ?? '')) return true;
  return JSON.stringify(a.labels ?? {}) !== JSON.stringify(b.labels ?? {});
}

/** What the controller acting on a (not deleted) Backup CR knows. */
export interface BackupFacts {
  /** A job for this backup runs in this process. */
  jobRunning: boolean;
  /** The volume's engine runs on this node and is running. */
  engineRunningHere: boolean;
  volumeExists: boolean;
  /** The snapshot is in the engine's list and not removed. */
  snapshotExists: boolean;
  /** An RW replica the engine reports, to read from. */
  replicaAvailable: boolean;
  /** Milliseconds since the CR was made. */
  ageMs: number;
}

export type BackupStep =
  | { do: 'nothing' }
  | { do: 'start'; retry: boolean }
  | { do: 'wait'; message: string; requeueAfterMs: number }
  | { do: 'fail'; message: string };

/** How long a backup waits for its snapshot to show in the engine's list before it fails. */
export const SNAPSHOT_WAIT_MS = 120_000;

/** The next step for a Backup CR, from its spec and status and what this node sees. */
export function nextBackupStep(
  b: Pick<BackupResource, 'spec' | 'status' | 'metadata'>,
  f: BackupFacts,
): BackupStep {
  const state = b.status?.state ?? '';
  if (state === 'Completed' || state === 'Error' || state === 'Deleting') return { do: 'nothing' };
  if (f.jobRunning) return { do: 'nothing' };
  const volume = b.metadata.labels?.[LABEL_BACKUP_VOLUME] ?? '';
  const snapshot = b.spec?.snapshotName ?? '';
  // A CR the target sync made for a backup in the store has no snapshot name: the sync fills it.
  if (snapshot === '') return { do: 'nothing' };
  if (volume === '')
    return { do: 'fail', message: 'the Backup has no backup-volume label naming its volume' };
  if (!f.volumeExists) return { do: 'fail', message: `volume ${volume} not found` };
  if (!f.engineRunningHere)
    return {
      do: 'wait',
      message: `waiting for volume ${volume} to be attached: a backup reads its snapshot from a replica of the running volume`,
      requeueAfterMs: 5_000,
    };
  if (!f.snapshotExists) {
    if (f.ageMs > SNAPSHOT_WAIT_MS)
      return { do: 'fail', message: `snapshot ${snapshot} not found in volume ${volume}` };
    return {
      do: 'wait',
      message: `waiting for snapshot ${snapshot} of volume ${volume}`,
      requeueAfterMs: 2_000,
    };
  }
  if (!f.replicaAvailable)
    return {
      do: 'wait',
      message: `volume ${volume} has no healthy (RW) replica to read from`,
      requeueAfterMs: 5_000,
    };
  return { do: 'start', retry: state === 'InProgress' };
}
