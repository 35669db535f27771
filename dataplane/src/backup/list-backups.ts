import { encodeBackupUrl } from './backup-url.js';
import { isInProgress } from './config.js';
import { backupNames, loadBackup, loadVolume } from './config-store.js';
import { isValidName, VOLUMES_DIR } from './layout.js';
import type { BackupTarget } from './target.js';

export interface BackupListEntry {
  volume: string;
  name: string;
  url: string;
  state: 'Completed' | 'InProgress';
  snapshot: string;
  snapshotCreatedAt: string;
  created: string;
  /** Bytes of the volume the backup holds (blocks x block size), Longhorn's Size. */
  size: number;
  volumeSize: number;
  incremental: boolean;
  compression: string;
  newlyUploadedBytes: number;
  blocks: number;
  labels: Record<string, string>;
  /** A cfg that could not be read: the reason (the other fields are empty then). */
  error?: string;
}

/** The names of every backup volume on the target (walks volumes/xx/yy/, Longhorn's layout). */
export async function listVolumeNames(target: BackupTarget): Promise<string[]> {
  const names: string[] = [];
  for (const l1 of await target.list(VOLUMES_DIR)) {
    for (const l2 of await target.list(`${VOLUMES_DIR}/${l1}`)) {
      for (const v of await target.list(`${VOLUMES_DIR}/${l1}/${l2}`)) if (isValidName(v)) names.push(v);
    }
  }
  return names.sort();
}

/** Every backup on the target, or of one volume; unreadable cfgs are listed with their error. */
export async function listBackups(target: BackupTarget, volume?: string): Promise<BackupListEntry[]> {
  await target.check();
  const volumes = volume ? [volume] : await listVolumeNames(target);
  const out: BackupListEntry[] = [];
  for (const v of volumes) {
    const vol = await loadVolume(target, v).catch(() => null);
    for (const name of await backupNames(target, v)) {
      const url = encodeBackupUrl(target.url, v, name);
      try {
        const b = await loadBackup(target, v, name);
        out.push({
          volume: v,
          name,
          url,
          state: isInProgress(b) ? 'InProgress' : 'Completed',
          snapshot: b.SnapshotName,
          snapshotCreatedAt: b.SnapshotCreatedAt,
          created: b.CreatedTime,
          size: b.Size,
          volumeSize: vol?.Size ?? 0,
          incremental: b.IsIncremental,
          compression: b.CompressionMethod,
          newlyUploadedBytes: b.NewlyUploadedDataSize,
          blocks: b.Blocks.length,
          labels: b.Labels ?? {},
        });
      } catch (err) {
        out.push({
          volume: v,
          name,
          url,
          state: 'InProgress',
          snapshot: '',
          snapshotCreatedAt: '',
          created: '',
          size: 0,
          volumeSize: vol?.Size ?? 0,
          incremental: false,
          compression: '',
          newlyUploadedBytes: 0,
          blocks: 0,
          labels: {},
          error: (err as Error).message,
        });
      }
    }
  }
  return out;
}
