import {
  type Backup,
  DEFAULT_BACKUP_TARGET_NAME,
  LABEL_BACKUP_TARGET,
  LABEL_BACKUP_VOLUME,
  LONGHORN_API_VERSION,
  type Snapshot,
  type Volume,
} from '@longhorn-ts/api';
import { decodeBackupUrl } from '@longhorn-ts/dataplane/backup/backup-url';
import type { CsiSnapshot, StringMap } from '../csi-types.js';
import { CsiError, notFound, precondition } from '../errors.js';
import type { LonghornObjects } from '../k8s/longhorn-objects.js';
import { pollUntil } from '../poll.js';
import type { CallContext } from '../rpc/edge.js';
import {
  backupFailure,
  backupProgress,
  backupRestoreSize,
  backupSnapshotOf,
  backupVolumeOf,
  csiSnapshotOfBackup,
  noBackupTarget,
  restoreUrlOf,
} from './backup-snapshot.js';
import { budget } from './call-budget.js';
import type { ResolvedSource } from './content-source.js';
import { snapshotLabels } from './snapshot-class.js';
import { backupNameFor, objectName, parseBackupSnapshotId } from './snapshot-ids.js';

/**
 * CSI snapshots of type `bak` (Longhorn's default): a Snapshot CR, then a Backup CR of it that
 * the operator's backup controller uploads to the backup target; the CSI id is
 * `bak://<volume>/<backup>`. As Longhorn's CSI does, CreateSnapshot answers once the Backup
 * exists, ready_to_use false until the backup is Completed; the snapshotter calls it again until
 * then, and each call answers the Backup's state. A restore from such a snapshot is a Volume
 * with spec.fromBackup (the backup's URL).
 */
export interface BackupSnapshotDeps {
  objects: LonghornObjects;
  /** How long CreateSnapshot waits for the snapshot, and for the backup to complete before answering not ready. */
  timeouts: { snapshotMs: number; backupMs: number };
  /**
   * Takes (or finds) Snapshot CR `name` of the volume, attaching the volume for it (a
   * snapshot-controller ticket) and keeping it attached for the backup: the backup controller
   * attaches with its own ticket only once it has seen the Backup, and a volume that starts
   * detaching in between fails the backup (seen: "replica ...: connection closed"). The
   * Snapshot once ready, undefined when it was not ready in time.
   */
  takeSnapshot: (volume: Volume, name: string, ctx: CallContext) => Promise<Snapshot | undefined>;
  /** Withdraws that ticket once the backup of `snapshot` is done, failed or deleted. */
  release: (volume: string, snapshot: string) => Promise<void>;
}

export interface BackupSnapshots {
  create(volumeName: string, csiName: string, parameters: StringMap, ctx: CallContext): Promise<CsiSnapshot>;
  remove(id: string, ctx: CallContext): Promise<void>;
  /** The ready or pending backups, of one volume or all, or the one an id names. */
  list(filter: { volume?: string; id?: string }, volumeSizes: Map<string, number>): Promise<CsiSnapshot[]>;
  /** CreateVolume's content source `bak://...`: the Volume gets spec.fromBackup. */
  resolveSource(id: string): Promise<ResolvedSource>;
  /** The size a volume restored from a backup URL (StorageClass `fromBackup`) needs, when its Backup is known. */
  sizeOfBackupUrl(url: string): Promise<number | undefined>;
}

const isDeleting = (b: { metadata: { deletionTimestamp?: string } }) =>
  b.metadata.deletionTimestamp !== undefined;

export function backupSnapshots(deps: BackupSnapshotDeps): BackupSnapshots {
  const { objects, timeouts } = deps;

  /** The backup of `snapshot` of `volume`, whoever made it (Longhorn's CSI looks it up the same way). */
  async function findBackup(volume: string, snapshot: string): Promise<Backup | undefined> {
    const own = await objects.get('Backup', backupNameFor(volume, snapshot));
    if (own && backupVolumeOf(own) === volume) return own;
    const all = await objects.list('Backup', `${LABEL_BACKUP_VOLUME}=${volume}`);
    return all.find((b) => backupSnapshotOf(b) === snapshot && backupVolumeOf(b) === volume);
  }

  /**
   * The backup target a volume uses (spec.backupTargetName, else "default") and its URL: the
   * BackupTarget CR's, else (Longhorn before 1.8) the `backup-target` Setting for the default one.
   */
  async function targetOf(name: string): Promise<{ name: string; url: string }> {
    const target = await objects.get('BackupTarget', name);
    let url = target?.spec.backupTargetURL ?? '';
    if (!url && name === DEFAULT_BACKUP_TARGET_NAME)
      url = (await objects.get('Setting', 'backup-target'))?.value ?? '';
    return { name, url };
  }

  async function answer(backup: Backup, volumeSize: number): Promise<CsiSnapshot> {
    const progress = backupProgress(backup);
    if (progress.state !== 'pending') await deps.release(backupVolumeOf(backup), backupSnapshotOf(backup));
    if (progress.state === 'failed') throw backupFailure(backup, progress.error);
    if (isDeleting(backup))
      throw new CsiError(
        'BUSY',
        `backup ${backup.metadata.name} of snapshot ${backupSnapshotOf(backup)} is being deleted; retry once it is gone`,
      );
    return csiSnapshotOfBackup(backup, volumeSize);
  }

  async function create(
    volumeName: string,
    csiName: string,
    parameters: StringMap,
    ctx: CallContext,
  ): Promise<CsiSnapshot> {
    const name = objectName(csiName);
    const [existing, volume] = await Promise.all([
      findBackup(volumeName, name),
      objects.get('Volume', volumeName),
    ]);
    const size = Number(volume?.spec.size ?? '0');
    // The backup first: it outlives its volume, and a repeated call just reports its state.
    if (existing) return answer(existing, size);
    if (!volume) throw notFound(`volume ${volumeName} not found`);
    const target = await targetOf(volume.spec.backupTargetName || DEFAULT_BACKUP_TARGET_NAME);
    if (!target.url) throw noBackupTarget(target.name, volumeName);
    const labels = snapshotLabels(parameters);
    const snap = await deps.takeSnapshot(volume, name, ctx);
    if (!snap)
      throw new CsiError(
        'BUSY',
        `snapshot ${name} of volume ${volumeName} is not ready yet; its backup starts once it is (retry)`,
      );
    const backupName = backupNameFor(volumeName, name);
    let backup: Backup | undefined;
    try {
      backup = await objects.create('Backup', {
        apiVersion: LONGHORN_API_VERSION,
        kind: 'Backup',
        metadata: {
          name: backupName,
          labels: { [LABEL_BACKUP_VOLUME]: volumeName, [LABEL_BACKUP_TARGET]: target.name },
        },
        spec: { snapshotName: name, labels },
      });
      ctx.log.info({ volume: volumeName, snapshot: name, backup: backupName }, 'backup requested');
    } catch (err) {
      if (!(err instanceof CsiError && err.code === 'ALREADY_EXISTS')) throw err;
      backup = await objects.get('Backup', backupName);
      if (!backup) throw new CsiError('BUSY', `backup ${backupName} is being replaced; retry`);
    }
    // A small volume's backup is often done in seconds: wait a little so the first answer is
    // already ready; past that, answer ready_to_use false and let the snapshotter ask again.
    let current = backup;
    try {
      await pollUntil(
        `backup ${backupName} of ${volumeName} to complete`,
        budget(ctx, timeouts.backupMs),
        async () => {
          current = (await objects.get('Backup', backupName)) ?? current;
          return backupProgress(current).state !== 'pending';
        },
      );
    } catch (err) {
      if (!(err instanceof CsiError && err.code === 'DEADLINE_EXCEEDED')) throw err;
    }
    return answer(current, size);
  }

  async function remove(id: string, ctx: CallContext): Promise<void> {
    const parsed = parseBackupSnapshotId(id);
    if (!parsed) return;
    const backup = await objects.get('Backup', parsed.backup);
    // Gone already, or another volume's backup of that name: nothing of this id's to delete.
    if (!backup || backupVolumeOf(backup) !== parsed.volume) return;
    await deps.release(parsed.volume, backupSnapshotOf(backup));
    if (!isDeleting(backup)) await objects.delete('Backup', parsed.backup);
    ctx.log.info({ volume: parsed.volume, backup: parsed.backup }, 'backup deletion requested');
    // The backup controller removes it from the target, then the CR goes; the snapshotter retries
    // a call that timed out.
    await pollUntil(
      `backup ${parsed.backup} of ${parsed.volume} to be deleted from the backup target`,
      budget(ctx, timeouts.snapshotMs),
      async () => {
        const b = await objects.get('Backup', parsed.backup);
        return b === undefined || backupVolumeOf(b) !== parsed.volume;
      },
    );
  }

  async function list(
    filter: { volume?: string; id?: string },
    volumeSizes: Map<string, number>,
  ): Promise<CsiSnapshot[]> {
    let backups: Backup[];
    let volume = filter.volume;
    if (filter.id !== undefined) {
      const parsed = parseBackupSnapshotId(filter.id);
      if (!parsed || (volume && parsed.volume !== volume)) return [];
      volume = parsed.volume;
      const b = await objects.get('Backup', parsed.backup);
      backups = b ? [b] : [];
    } else {
      backups = await objects.list('Backup', volume ? `${LABEL_BACKUP_VOLUME}=${volume}` : undefined);
    }
    return backups
      .filter(
        (b) =>
          !isDeleting(b) &&
          backupVolumeOf(b) !== '' &&
          (!volume || backupVolumeOf(b) === volume) &&
          backupProgress(b).state !== 'failed',
      )
      .map((b) => csiSnapshotOfBackup(b, volumeSizes.get(backupVolumeOf(b)) ?? 0));
  }

  async function resolveSource(id: string): Promise<ResolvedSource> {
    const parsed = parseBackupSnapshotId(id);
    if (!parsed) throw notFound(`source snapshot ${JSON.stringify(id)} not found`);
    const [backup, volume] = await Promise.all([
      objects.get('Backup', parsed.backup),
      objects.get('Volume', parsed.volume),
    ]);
    if (!backup || backupVolumeOf(backup) !== parsed.volume || isDeleting(backup))
      throw notFound(
        `source snapshot ${id} not found (no Backup ${parsed.backup} of volume ${parsed.volume})`,
      );
    const progress = backupProgress(backup);
    if (progress.state === 'failed')
      throw precondition(`source snapshot ${id} cannot be restored: its backup failed: ${progress.error}`);
    if (progress.state === 'pending')
      throw new CsiError('BUSY', `source snapshot ${id} is not ready to use yet (backup ${progress.detail})`);
    const targetName =
      backup.metadata.labels?.[LABEL_BACKUP_TARGET] ||
      backup.status?.backupTargetName ||
      volume?.spec.backupTargetName ||
      DEFAULT_BACKUP_TARGET_NAME;
    const url = restoreUrlOf(backup, backup.status?.url ? undefined : (await targetOf(targetName)).url);
    if (!url)
      throw precondition(
        `source snapshot ${id} cannot be restored: backup ${parsed.backup} has no URL and backup target "${targetName}" has none`,
      );
    return {
      fromBackup: url,
      sourceSize: backupRestoreSize(backup, Number(volume?.spec.size ?? '0')),
      contentSource: { snapshot: { snapshotId: id } },
    };
  }

  async function sizeOfBackupUrl(url: string): Promise<number | undefined> {
    const { volume, backup: name } = decodeBackupUrl(url);
    const backup = name ? await objects.get('Backup', name) : undefined;
    if (!backup || backupVolumeOf(backup) !== volume) return undefined;
    const size = backupRestoreSize(backup, 0);
    return size > 0 ? size : undefined;
  }

  return { create, remove, list, resolveSource, sizeOfBackupUrl };
}
