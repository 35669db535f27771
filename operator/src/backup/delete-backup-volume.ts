/**
 * Deletes one volume's whole backup volume from a store (Longhorn's BackupVolumeDelete: every
 * backup cfg, every block, volume.cfg), under the volume's deletion lock, so a backup or restore
 * running elsewhere makes it fail with BUSY instead of losing blocks under it.
 */

import {
  BackupLock,
  type BackupTarget,
  LOCK_DELETE,
  type LockTiming,
  locksDir,
  VOLUME_CFG,
  volumeDir,
} from '@longhorn-ts/dataplane/backup/index';
import { runPool } from '@longhorn-ts/dataplane/backup/worker-pool';

export interface DeleteBackupVolumeResult {
  /** Objects removed (cfgs and blocks). */
  objectsDeleted: number;
}

/** Order of removal: backup cfgs and blocks first, volume.cfg last (a half-deleted volume still lists). */
export function removalOrder(dir: string, objects: readonly string[], lockDir: string): string[] {
  const locks = `${lockDir.slice(dir.length + 1)}/`;
  const cfg = VOLUME_CFG;
  const rest = objects.filter((o) => !o.startsWith(locks) && o !== cfg).sort();
  return objects.includes(cfg) ? [...rest, cfg] : rest;
}

export async function deleteBackupVolume(
  target: BackupTarget,
  volume: string,
  opts: { lockTiming?: LockTiming; concurrency?: number } = {},
): Promise<DeleteBackupVolumeResult> {
  const dir = volumeDir(volume);
  await target.check();
  const lock = await BackupLock.acquire(target, volume, LOCK_DELETE, opts.lockTiming);
  try {
    const order = removalOrder(dir, await target.listAll(dir), locksDir(volume));
    // Everything but volume.cfg at once, then volume.cfg.
    const last = order.at(-1) === VOLUME_CFG ? order.pop() : undefined;
    await runPool(order, opts.concurrency ?? 8, undefined, (o) => target.remove(`${dir}/${o}`));
    if (last !== undefined) await target.remove(`${dir}/${last}`);
    return { objectsDeleted: order.length + (last === undefined ? 0 : 1) };
  } finally {
    await lock.release();
  }
}
