/**
 * What the BackupTarget sync changes in the cluster so its BackupVolume and Backup CRs say what
 * the store holds (pure): a backup volume or backup in the store without a CR gets one (backups
 * made elsewhere: another cluster, the local tool); a CR whose backup volume or completed backup
 * the store no longer has goes. CRs of a backup still being made (no state yet, Pending,
 * InProgress) or that failed (Error: its CR says why) are never removed by a sync.
 */

import { createHash } from 'node:crypto';
import type { Backup, BackupVolume } from '@longhorn-ts/api';

export interface StoreVolume {
  name: string;
  /** Names of its backups in the store, completed ones only. */
  backups: readonly string[];
}

export interface SyncPlan {
  /** Volume names whose BackupVolume CR is to be made. */
  createVolumes: string[];
  /** BackupVolume CR names to delete. */
  deleteVolumes: string[];
  /** Backups to make CRs for. */
  createBackups: Array<{ volume: string; backup: string }>;
  /** Backup CR names to delete. */
  deleteBackups: string[];
}

/** The BackupVolume CR name of `volume` in target `target` (Longhorn 1.8 names them bv-...). */
export function backupVolumeName(target: string, volume: string): string {
  return `bv-${createHash('sha256').update(`${target}/${volume}`).digest('hex').slice(0, 20)}`;
}

const KEEP_STATES = new Set(['', 'Pending', 'InProgress', 'Error', 'Unknown']);

/**
 * `volumes` are the store's; `bvs` and `backups` the CRs of this target (by label/spec).
 * `volumeOf(b)` is a Backup CR's volume (its backup-volume label).
 */
export function planStoreSync(
  volumes: readonly StoreVolume[],
  bvs: readonly BackupVolume[],
  backups: readonly Backup[],
  volumeOf: (b: Backup) => string,
): SyncPlan {
  const inStore = new Map(volumes.map((v) => [v.name, new Set(v.backups)]));
  const bvByVolume = new Set(bvs.map((bv) => bv.spec?.volumeName ?? ''));
  const plan: SyncPlan = { createVolumes: [], deleteVolumes: [], createBackups: [], deleteBackups: [] };

  for (const v of [...inStore.keys()].sort()) if (!bvByVolume.has(v)) plan.createVolumes.push(v);
  for (const bv of bvs) {
    if (bv.metadata.deletionTimestamp !== undefined) continue;
    if (!inStore.has(bv.spec?.volumeName ?? '')) plan.deleteVolumes.push(bv.metadata.name);
  }

  const crs = new Set(backups.map((b) => `${volumeOf(b)}/${b.metadata.name}`));
  for (const [volume, names] of inStore) {
    for (const backup of [...names].sort()) {
      if (!crs.has(`${volume}/${backup}`) && !backups.some((b) => b.metadata.name === backup))
        plan.createBackups.push({ volume, backup });
    }
  }
  for (const b of backups) {
    if (b.metadata.deletionTimestamp !== undefined) continue;
    if (KEEP_STATES.has(b.status?.state ?? '')) continue;
    if (!inStore.get(volumeOf(b))?.has(b.metadata.name)) plan.deleteBackups.push(b.metadata.name);
  }
  plan.deleteVolumes.sort();
  plan.deleteBackups.sort();
  return plan;
}
