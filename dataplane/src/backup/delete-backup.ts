import { type Logger, rootLogger } from '../logging/logger.js';
import { latestBackup, unreferencedBlocks } from './block-plan.js';
import { type BackupConfig, isInProgress } from './config.js';
import { backupNames, loadBackup, loadVolume, saveVolume } from './config-store.js';
import type { BackupError } from './errors.js';
import { backupCfgPath, blockChecksumOf, blockPath, blocksDir } from './layout.js';
import { BackupLock, LOCK_DELETE, type LockTiming } from './lock.js';
import type { BackupTarget } from './target.js';
import { runPool } from './worker-pool.js';

export interface DeleteBackupOptions {
  target: BackupTarget;
  volume: string;
  backup: string;
  lockTiming?: LockTiming;
  /** Block deletions in flight. Default 8. */
  concurrency?: number;
  log?: Logger;
}

export interface DeleteResult {
  /** Blocks removed by GC. */
  blocksDeleted: number;
  /** Blocks still referenced by other backups. */
  blocksRetained: number;
  /** Why GC did not run, when it did not. */
  gcSkipped?: string;
}

/**
 * Deletes one backup, then collects the volume's blocks no remaining backup references (as
 * Longhorn does, under the volume's deletion lock): the cfg goes first; if it was the volume's
 * last backup, volume.cfg points to the newest remaining one. GC is skipped, leaving blocks for a
 * later delete, when a remaining cfg cannot be read, when a backup is in progress, or when the
 * list of backups changed while counting. Blocks are found with one recursive LIST per 1000
 * (Longhorn walks 1 + 256 + 65536 folders).
 */
export async function deleteBackup(opts: DeleteBackupOptions): Promise<DeleteResult> {
  const { target, volume, backup } = opts;
  const log = (opts.log ?? rootLogger).child({ component: 'backup-delete', volume, backup });
  await target.check();
  const vol = await loadVolume(target, volume);
  const lock = await BackupLock.acquire(target, volume, LOCK_DELETE, opts.lockTiming);
  try {
    await loadBackup(target, volume, backup); // NOT_FOUND for a backup that is not there
    await target.remove(backupCfgPath(volume, backup));

    const names = await backupNames(target, volume);
    const remaining: BackupConfig[] = [];
    let gcSkipped: string | undefined;
    for (const name of names) {
      try {
        const b = await loadBackup(target, volume, name);
        if (isInProgress(b)) gcSkipped ??= `backup ${name} is in progress`;
        remaining.push(b);
      } catch (err) {
        gcSkipped ??= `backup ${name} could not be read: ${(err as BackupError).message}`;
      }
    }
    if (vol.LastBackupName === backup || !names.includes(vol.LastBackupName)) {
      const fresh = await loadVolume(target, volume);
      const next = gcSkipped ? undefined : latestBackup(remaining);
      await saveVolume(target, {
        ...fresh,
        LastBackupName: next?.Name ?? '',
        LastBackupAt: next?.SnapshotCreatedAt ?? '',
      });
    }

    const present = new Set<string>();
    for (const key of await target.listAll(blocksDir(volume))) {
      const c = blockChecksumOf(key);
      if (c) present.add(c);
    }
    const again = await backupNames(target, volume);
    if (!gcSkipped && (again.length !== names.length || again.some((n, i) => n !== names[i])))
      gcSkipped = 'backups were added or removed while counting references';
    if (gcSkipped) {
      log.info({ reason: gcSkipped }, 'block GC skipped');
      return { blocksDeleted: 0, blocksRetained: present.size, gcSkipped };
    }
    const garbage = unreferencedBlocks(present, remaining);
    await runPool(garbage, opts.concurrency ?? 8, undefined, (c) => target.remove(blockPath(volume, c)));
    const retained = present.size - garbage.length;
    const fresh = await loadVolume(target, volume);
    await saveVolume(target, { ...fresh, BlockCount: retained });
    log.info({ deleted: garbage.length, retained }, 'block GC complete');
    return { blocksDeleted: garbage.length, blocksRetained: retained };
  } finally {
    await lock.release().catch(() => {});
  }
}
