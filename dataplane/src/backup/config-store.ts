import {
  type BackupConfig,
  decodeBackupConfig,
  decodeVolumeConfig,
  encodeBackupConfig,
  encodeVolumeConfig,
  type VolumeConfig,
} from './config.js';
import { BackupError } from './errors.js';
import { backupCfgPath, backupNameOf, backupsDir, volumeCfgPath } from './layout.js';
import type { BackupTarget } from './target.js';

/** Reading and writing a volume's cfg files on a target. */

export async function loadVolume(target: BackupTarget, volume: string): Promise<VolumeConfig> {
  const path = volumeCfgPath(volume);
  try {
    return decodeVolumeConfig(await target.get(path), path);
  } catch (err) {
    if ((err as BackupError).code === 'NOT_FOUND') {
      throw new BackupError('NOT_FOUND', `no backup volume ${volume} on ${target.url}`, {
        volume,
        target: target.url,
      });
    }
    throw err;
  }
}

export async function saveVolume(target: BackupTarget, v: VolumeConfig): Promise<void> {
  await target.put(volumeCfgPath(v.Name), encodeVolumeConfig(v));
}

export async function loadBackup(
  target: BackupTarget,
  volume: string,
  backup: string,
): Promise<BackupConfig> {
  const path = backupCfgPath(volume, backup);
  try {
    return decodeBackupConfig(await target.get(path), path);
  } catch (err) {
    if ((err as BackupError).code === 'NOT_FOUND') {
      throw new BackupError('NOT_FOUND', `no backup ${backup} of volume ${volume} on ${target.url}`, {
        volume,
        backup,
        target: target.url,
      });
    }
    throw err;
  }
}

export async function saveBackup(target: BackupTarget, b: BackupConfig): Promise<void> {
  await target.put(backupCfgPath(b.VolumeName, b.Name), encodeBackupConfig(b));
}

export async function backupNames(target: BackupTarget, volume: string): Promise<string[]> {
  const names: string[] = [];
  for (const f of await target.list(backupsDir(volume))) {
    const n = backupNameOf(f);
    if (n) names.push(n);
  }
  return names.sort();
}
