/**
 * BackupVolume (acted on by its status.ownerID, else one live operator): keeps the finalizer
 * longhorn.io on every BackupVolume; deleting one deletes, as Longhorn does, the whole backup
 * volume from its store (every backup of that volume, under the deletion lock) and the volume's
 * Backup CRs. A BackupVolume the BackupTarget sync removed (marked keep-in-store: the store no
 * longer has it, or the target's URL was emptied) deletes nothing in a store; neither does one
 * whose target is unavailable (an Event says so), so a deletion never hangs on a dead store.
 */

import {
  type BackupVolume,
  LONGHORN_API_VERSION,
  withLonghornFinalizer,
  withoutLonghornFinalizer,
} from '@longhorn-ts/api';
import type { Logger } from 'pino';
import { deleteBackupVolume } from '../backup/delete-backup-volume.js';
import { openResolvedTarget, resolveTargetSpec, type TargetReader } from '../backup/target-access.js';
import { targetUnusableReason } from '../backup/target-unusable.js';
import { KINDS } from '../k8s/kinds.js';
import type { ReconcileResult } from '../runtime/work-queue.js';
import {
  type BackupTargetController,
  KEEP_IN_STORE_ANNOTATION,
  targetOfBackup,
  targetOfBackupVolume,
  volumeOfBackup,
} from './backup-target-controller.js';
import { type ControllerContext, isMine, keyOf, nameOfKey } from './context.js';

export const BACKUP_VOLUME_CONTROLLER = 'backup-volume';

export class BackupVolumeController {
  private readonly log: Logger;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly reader: TargetReader,
    private readonly targets: BackupTargetController,
  ) {
    this.log = ctx.log.child({ controller: BACKUP_VOLUME_CONTROLLER });
    const ns = ctx.id.namespace;
    ctx.dispatcher.watch<BackupVolume>('BackupVolume', BACKUP_VOLUME_CONTROLLER, (bv) => [
      `${ns}/${bv.metadata.name}`,
    ]);
  }

  allKeys(): string[] {
    return this.ctx.caches.backupVolumes
      .list(this.ctx.id.namespace)
      .map((bv) => keyOf(this.ctx, bv.metadata.name));
  }

  async reconcile(key: string): Promise<ReconcileResult | undefined> {
    const { ctx } = this;
    const bv = ctx.caches.backupVolumes.get(nameOfKey(key), ctx.id.namespace);
    if (bv === undefined) return undefined;
    if (!isMine(ctx, key, '', bv.status?.ownerID ?? '')) return undefined;
    const finalizers = bv.metadata.finalizers ?? [];
    if (bv.metadata.deletionTimestamp === undefined) {
      if (!finalizers.includes('longhorn.io'))
        await ctx.client.patch(
          KINDS.backupVolume,
          bv.metadata.name,
          { metadata: { finalizers: withLonghornFinalizer(finalizers) } },
          bv.metadata.resourceVersion,
        );
      return undefined;
    }
    if (finalizers.length === 0) return undefined;
    await this.remove(bv);
    return undefined;
  }

  private async remove(bv: BackupVolume): Promise<void> {
    const { ctx } = this;
    const ns = ctx.id.namespace;
    const volume = bv.spec?.volumeName ?? '';
    const targetName = targetOfBackupVolume(bv);
    const log = this.log.child({ backupVolume: bv.metadata.name, volume, target: targetName });
    const keep = bv.metadata.annotations?.[KEEP_IN_STORE_ANNOTATION] === 'true';
    if (!keep && volume !== '') {
      const bt = ctx.caches.backupTargets.get(targetName, ns);
      const why = targetUnusableReason(bt, targetName);
      if (why !== undefined) {
        log.warn({ reason: why }, 'BackupVolume removed without deleting its backups from the store');
        ctx.events.record(
          { ...bv, apiVersion: LONGHORN_API_VERSION, kind: 'BackupVolume' },
          'Warning',
          'BackupVolumeKeptInStore',
          `the backups of volume ${volume} were not deleted from the store: ${why}`,
        );
      } else {
        const target = openResolvedTarget(await resolveTargetSpec(bt!, this.reader));
        try {
          const r = await deleteBackupVolume(target, volume);
          log.info({ objectsDeleted: r.objectsDeleted }, 'backup volume deleted from the store');
        } finally {
          await target.close().catch(() => undefined);
        }
      }
    }
    // Its Backup CRs go; what they name is deleted above or is to stay.
    for (const b of ctx.caches.backups.list(ns)) {
      if (volumeOfBackup(b) !== volume || targetOfBackup(b) !== targetName) continue;
      if (b.metadata.deletionTimestamp !== undefined) continue;
      try {
        await ctx.client.patch(KINDS.backup, b.metadata.name, {
          metadata: { annotations: { [KEEP_IN_STORE_ANNOTATION]: 'true' } },
        });
        await ctx.client.delete(KINDS.backup, b.metadata.name);
      } catch (err) {
        if ((err as { code?: string }).code !== 'NOT_FOUND') throw err;
      }
    }
    await ctx.client.patch(
      KINDS.backupVolume,
      bv.metadata.name,
      { metadata: { finalizers: withoutLonghornFinalizer(bv.metadata.finalizers) } },
      bv.metadata.resourceVersion,
    );
    if (!keep) await this.targets.requestSync(targetName);
  }
}
