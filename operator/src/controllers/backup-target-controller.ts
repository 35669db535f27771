/**
 * BackupTarget (one operator acts on each, by ownerID): the Settings backup-target,
 * backup-target-credential-secret and backupstore-poll-interval feed the target "default" (made
 * when missing, as Longhorn installs it); every pollInterval the target is checked and listed:
 * status.available, the Unavailable condition with the reason when it cannot be used (no URL,
 * credentials refused, unreachable, no bucket), lastSyncedAt; BackupVolume and Backup CRs are
 * made and removed so they say what the store holds, and their status follows the store's cfgs.
 * CRs this controller removes (the store no longer has them, the URL was emptied) are marked so
 * that their removal never deletes anything in a store.
 */

import {
  type Backup,
  type BackupTarget as BackupTargetResource,
  type BackupTargetStatus,
  type BackupVolume,
  DEFAULT_BACKUP_TARGET_NAME,
  LABEL_BACKUP_TARGET,
  LABEL_BACKUP_VOLUME,
  LONGHORN_API_VERSION,
  type Setting,
  withLonghornFinalizer,
} from '@longhorn-ts/api';
import {
  type BackupListEntry,
  type BackupTarget,
  listBackups,
  listVolumeNames,
  loadVolume,
  type VolumeConfig,
} from '@longhorn-ts/dataplane/backup/index';
import type { Logger } from 'pino';
import {
  backupVolumeStatus,
  backupVolumeStatusDiffers,
  statusFromStore,
  syncedFieldsDiffer,
} from '../backup/backup-status.js';
import { parseGoDuration } from '../backup/go-duration.js';
import { backupVolumeName, planStoreSync, type StoreVolume } from '../backup/store-sync-plan.js';
import { openResolvedTarget, resolveTargetSpec, type TargetReader } from '../backup/target-access.js';
import { APPLIED_SETTINGS_ANNOTATION, settingsUpdate } from '../backup/target-from-settings.js';
import { rfc3339, setCondition } from '../conditions.js';
import { KINDS } from '../k8s/kinds.js';
import type { ReconcileResult } from '../runtime/work-queue.js';
import { type ControllerContext, isMine, keyOf, nameOfKey } from './context.js';

export const BACKUP_TARGET_CONTROLLER = 'backup-target';
const SETTINGS_KEY = 'settings:backup-target';
const TARGET_SETTINGS = new Set([
  'backup-target',
  'backup-target-credential-secret',
  'backupstore-poll-interval',
]);
/** A CR removed by a sync, not by a user: its finalizer must not delete it from the store. */
export const KEEP_IN_STORE_ANNOTATION = 'longhorn-ts.io/keep-in-store';
const DEFAULT_POLL_MS = 300_000;
/** An unavailable target is tried again at least this often, whatever its poll interval. */
const UNAVAILABLE_RETRY_MS = 30_000;

/** The target a Backup CR belongs to: its label, its status, else the default one. */
export function targetOfBackup(b: Backup): string {
  return b.metadata.labels?.[LABEL_BACKUP_TARGET] || b.status?.backupTargetName || DEFAULT_BACKUP_TARGET_NAME;
}

export function volumeOfBackup(b: Backup): string {
  return b.metadata.labels?.[LABEL_BACKUP_VOLUME] || b.status?.volumeName || '';
}

export function targetOfBackupVolume(bv: BackupVolume): string {
  return bv.spec?.backupTargetName || bv.metadata.labels?.[LABEL_BACKUP_TARGET] || DEFAULT_BACKUP_TARGET_NAME;
}

/** pollInterval in ms; an unreadable one is the default (and said in the condition). */
export function pollIntervalMs(text: string | undefined): { ms: number; error?: string } {
  if (text === undefined || text === '') return { ms: DEFAULT_POLL_MS };
  try {
    return { ms: parseGoDuration(text) };
  } catch (err) {
    return { ms: DEFAULT_POLL_MS, error: (err as Error).message };
  }
}

export class BackupTargetController {
  private readonly log: Logger;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly reader: TargetReader,
  ) {
    this.log = ctx.log.child({ controller: BACKUP_TARGET_CONTROLLER });
    const ns = ctx.id.namespace;
    ctx.dispatcher.watch<BackupTargetResource>('BackupTarget', BACKUP_TARGET_CONTROLLER, (t) => [
      `${ns}/${t.metadata.name}`,
    ]);
    ctx.dispatcher.watch<Setting>('Setting', BACKUP_TARGET_CONTROLLER, (s) =>
      TARGET_SETTINGS.has(s.metadata.name) ? [SETTINGS_KEY] : [],
    );
  }

  /**
   * Asks for a sync of a target now (a backup completed or was deleted): spec.syncRequestedAt, as
   * Longhorn asks, since the target's owner may be another node's operator.
   */
  async requestSync(targetName: string): Promise<void> {
    const bt = this.ctx.caches.backupTargets.get(targetName, this.ctx.id.namespace);
    if (bt === undefined) return;
    await this.ctx.client
      .patch(KINDS.backupTarget, targetName, {
        spec: { syncRequestedAt: new Date(this.ctx.clock.now()).toISOString() },
      })
      .catch((err: unknown) =>
        this.log.warn({ target: targetName, err: (err as Error).message }, 'sync request not written'),
      );
  }

  /** Keys to look at when ownership may have moved. */
  allKeys(): string[] {
    return [
      SETTINGS_KEY,
      ...this.ctx.caches.backupTargets
        .list(this.ctx.id.namespace)
        .map((t) => keyOf(this.ctx, t.metadata.name)),
    ];
  }

  async reconcile(key: string): Promise<ReconcileResult | undefined> {
    const { ctx } = this;
    if (key === SETTINGS_KEY) return this.applySettings();
    const bt = ctx.caches.backupTargets.get(nameOfKey(key), ctx.id.namespace);
    if (bt === undefined) {
      if (nameOfKey(key) === DEFAULT_BACKUP_TARGET_NAME) return this.applySettings();
      // A deleted target's BackupVolume and Backup CRs go; its store keeps its backups (Longhorn).
      if (isMine(ctx, key, '', '')) await this.removeCrsOf(nameOfKey(key), new Set());
      return undefined;
    }
    if (bt.metadata.deletionTimestamp !== undefined) return undefined;
    if (!isMine(ctx, key, '', bt.status?.ownerID ?? '')) return undefined;
    return this.sync(bt);
  }

  /** Settings -> the default target (made if missing). */
  private async applySettings(): Promise<undefined> {
    const { ctx } = this;
    const ns = ctx.id.namespace;
    const key = keyOf(ctx, DEFAULT_BACKUP_TARGET_NAME);
    const bt = ctx.caches.backupTargets.get(DEFAULT_BACKUP_TARGET_NAME, ns);
    if (!isMine(ctx, key, '', bt?.status?.ownerID ?? '')) return undefined;
    const settings = {
      backupTarget: ctx.settings.get('backup-target'),
      credentialSecret: ctx.settings.get('backup-target-credential-secret'),
      pollIntervalSeconds: ctx.settings.get('backupstore-poll-interval'),
    };
    const update = settingsUpdate(
      bt?.spec,
      bt?.metadata.annotations?.[APPLIED_SETTINGS_ANNOTATION],
      settings,
    );
    if (update === undefined) return undefined;
    if (bt === undefined) {
      const body: BackupTargetResource = {
        apiVersion: LONGHORN_API_VERSION,
        kind: 'BackupTarget',
        metadata: {
          name: DEFAULT_BACKUP_TARGET_NAME,
          namespace: ns,
          annotations: { [APPLIED_SETTINGS_ANNOTATION]: update.annotation },
        },
        spec: { backupTargetURL: '', credentialSecret: '', pollInterval: '5m0s', ...update.spec },
      };
      try {
        await ctx.client.create(KINDS.backupTarget, body);
        this.log.info({ spec: body.spec }, 'default backup target created');
      } catch (err) {
        if ((err as { status?: number }).status !== 409) throw err;
      }
      return undefined;
    }
    await ctx.client.patch(
      KINDS.backupTarget,
      bt.metadata.name,
      { metadata: { annotations: { [APPLIED_SETTINGS_ANNOTATION]: update.annotation } }, spec: update.spec },
      bt.metadata.resourceVersion,
    );
    this.log.info({ spec: update.spec }, 'default backup target updated from the Settings');
    return undefined;
  }

  private async sync(bt: BackupTargetResource): Promise<ReconcileResult | undefined> {
    const { ctx } = this;
    const name = bt.metadata.name;
    const poll = pollIntervalMs(bt.spec?.pollInterval);
    const now = rfc3339(ctx.clock.now());
    if ((bt.spec?.backupTargetURL ?? '').trim() === '') {
      await this.removeCrsOf(name, new Set());
      await this.writeStatus(bt, false, 'backup target URL is empty', now);
      return undefined;
    }
    let target: BackupTarget | undefined;
    let store: Array<StoreVolume & { cfg: VolumeConfig | undefined; entries: BackupListEntry[] }>;
    try {
      target = openResolvedTarget(await resolveTargetSpec(bt, this.reader));
      await target.check();
      store = [];
      for (const v of await listVolumeNames(target)) {
        const entries = await listBackups(target, v);
        const cfg = await loadVolume(target, v).catch(() => undefined);
        store.push({
          name: v,
          cfg,
          entries,
          backups: entries.filter((e) => e.state === 'Completed' && e.error === undefined).map((e) => e.name),
        });
      }
    } catch (err) {
      const message = (err as Error).message;
      this.log.warn({ target: name, err: message }, 'backup target unavailable');
      await this.writeStatus(bt, false, message, now);
      return { requeueAfterMs: Math.min(poll.ms || UNAVAILABLE_RETRY_MS, UNAVAILABLE_RETRY_MS) };
    } finally {
      await target?.close().catch(() => undefined);
    }

    await this.applyStore(name, store, now);
    await this.writeStatus(bt, true, poll.error ?? '', now);
    return poll.ms > 0 ? { requeueAfterMs: poll.ms } : undefined;
  }

  private async writeStatus(
    bt: BackupTargetResource,
    available: boolean,
    message: string,
    now: string,
  ): Promise<void> {
    const prev = bt.status ?? {};
    const conditions = setCondition(
      prev.conditions as Parameters<typeof setCondition>[0],
      'Unavailable',
      available ? 'False' : 'True',
      available ? '' : 'Unavailable',
      message,
      now,
    );
    const status: BackupTargetStatus = {
      ...prev,
      ownerID: this.ctx.id.node,
      available,
      conditions,
      ...(available ? { lastSyncedAt: now } : {}),
    };
    await this.ctx.client.patchStatus(KINDS.backupTarget, bt, status);
  }

  /** Makes the cluster's CRs of target `name` say what the store holds. */
  private async applyStore(
    name: string,
    store: Array<StoreVolume & { cfg: VolumeConfig | undefined; entries: BackupListEntry[] }>,
    now: string,
  ): Promise<void> {
    const { ctx } = this;
    const ns = ctx.id.namespace;
    const bvs = ctx.caches.backupVolumes.list(ns).filter((bv) => targetOfBackupVolume(bv) === name);
    const backups = ctx.caches.backups.list(ns).filter((b) => targetOfBackup(b) === name);
    const plan = planStoreSync(store, bvs, backups, volumeOfBackup);
    const log = this.log.child({ target: name });

    const made: BackupVolume[] = [];
    for (const volume of plan.createVolumes) {
      const body: BackupVolume = {
        apiVersion: LONGHORN_API_VERSION,
        kind: 'BackupVolume',
        metadata: {
          name: backupVolumeName(name, volume),
          namespace: ns,
          labels: { [LABEL_BACKUP_TARGET]: name, [LABEL_BACKUP_VOLUME]: volume },
          finalizers: withLonghornFinalizer(),
        },
        spec: { backupTargetName: name, volumeName: volume },
      };
      try {
        made.push(await ctx.client.create(KINDS.backupVolume, body));
        log.info({ volume }, 'backup volume found in the store');
      } catch (err) {
        if ((err as { status?: number }).status !== 409) throw err;
      }
    }
    for (const { volume, backup } of plan.createBackups) {
      const entry = store.find((v) => v.name === volume)?.entries.find((e) => e.name === backup);
      if (entry === undefined) continue;
      const body: Backup = {
        apiVersion: LONGHORN_API_VERSION,
        kind: 'Backup',
        metadata: {
          name: backup,
          namespace: ns,
          labels: { [LABEL_BACKUP_TARGET]: name, [LABEL_BACKUP_VOLUME]: volume },
          finalizers: withLonghornFinalizer(),
        },
        spec: { snapshotName: '', labels: entry.labels },
      };
      try {
        const made = await ctx.client.create(KINDS.backup, body);
        await ctx.client.patchStatus(
          KINDS.backup,
          made,
          statusFromStore(undefined, entry, { node: ctx.id.node, target: name, now }),
        );
        log.info({ volume, backup }, 'backup found in the store');
      } catch (err) {
        if ((err as { status?: number }).status !== 409) throw err;
      }
    }
    for (const bv of plan.deleteVolumes) await this.removeMarked(KINDS.backupVolume, bv);
    for (const b of plan.deleteBackups) await this.removeMarked(KINDS.backup, b);
    if (plan.deleteVolumes.length + plan.deleteBackups.length > 0)
      log.info(
        { backupVolumes: plan.deleteVolumes, backups: plan.deleteBackups },
        'CRs of what the store no longer holds removed',
      );

    // Status of what exists on both sides.
    for (const v of store) {
      if (v.cfg === undefined) continue;
      // One made just now is not in the cache yet: its status is written on what create returned.
      const bv = [...bvs, ...made].find((x) => x.spec?.volumeName === v.name);
      if (bv !== undefined) {
        const status = backupVolumeStatus(bv.status, v.cfg, { node: ctx.id.node, now });
        if (backupVolumeStatusDiffers(bv.status, status) || bv.status?.ownerID !== ctx.id.node)
          await ctx.client.patchStatus(KINDS.backupVolume, bv, status).catch((err: unknown) => {
            log.warn({ err: (err as Error).message }, 'backup volume status not written');
          });
      }
      await this.updateVolumeLastBackup(name, v.name, v.cfg);
      for (const e of v.entries) {
        if (e.state !== 'Completed' || e.error !== undefined) continue;
        const cr = backups.find((b) => b.metadata.name === e.name && volumeOfBackup(b) === v.name);
        if (cr === undefined || cr.metadata.deletionTimestamp !== undefined) continue;
        const state = cr.status?.state ?? '';
        // A backup being made here is the Backup controller's; a failed one keeps its message.
        if (state === 'InProgress' || state === 'Pending' || state === 'Error') continue;
        if (state === '' && cr.spec?.snapshotName) continue;
        const status = statusFromStore(cr.status, e, { node: ctx.id.node, target: name, now });
        if (syncedFieldsDiffer(cr.status, status))
          await ctx.client.patchStatus(KINDS.backup, cr, status).catch((err: unknown) => {
            log.warn({ err: (err as Error).message }, 'backup status not written');
          });
      }
    }
  }

  /** Volume status.lastBackup/lastBackupAt of a volume of this cluster backed up to `target`. */
  private async updateVolumeLastBackup(target: string, volumeName: string, cfg: VolumeConfig): Promise<void> {
    const volume = this.ctx.caches.volumes.get(volumeName, this.ctx.id.namespace);
    if (volume === undefined || volume.metadata.deletionTimestamp !== undefined) return;
    if ((volume.spec.backupTargetName || DEFAULT_BACKUP_TARGET_NAME) !== target) return;
    if (
      (volume.status?.lastBackup ?? '') === cfg.LastBackupName &&
      (volume.status?.lastBackupAt ?? '') === cfg.LastBackupAt
    )
      return;
    await this.ctx.client
      .patchStatus(KINDS.volume, volume, { lastBackup: cfg.LastBackupName, lastBackupAt: cfg.LastBackupAt })
      .catch((err: unknown) =>
        this.log.debug({ err: (err as Error).message }, 'volume lastBackup write lost a race'),
      );
  }

  /** Removes every BackupVolume and Backup CR of target `name`, marked to keep the store as is. */
  private async removeCrsOf(name: string, keep: ReadonlySet<string>): Promise<void> {
    const ns = this.ctx.id.namespace;
    for (const bv of this.ctx.caches.backupVolumes.list(ns)) {
      if (targetOfBackupVolume(bv) === name && !keep.has(bv.metadata.name) && !bv.metadata.deletionTimestamp)
        await this.removeMarked(KINDS.backupVolume, bv.metadata.name);
    }
    for (const b of this.ctx.caches.backups.list(ns)) {
      const state = b.status?.state ?? '';
      if (state === 'InProgress') continue;
      if (targetOfBackup(b) === name && !b.metadata.deletionTimestamp)
        await this.removeMarked(KINDS.backup, b.metadata.name);
    }
  }

  private async removeMarked(type: (typeof KINDS)['backup' | 'backupVolume'], name: string): Promise<void> {
    try {
      await this.ctx.client.patch(type, name, {
        metadata: { annotations: { [KEEP_IN_STORE_ANNOTATION]: 'true' } },
      });
    } catch (err) {
      if ((err as { code?: string }).code === 'NOT_FOUND') return;
      throw err;
    }
    await this.ctx.client.delete(type, name);
  }
}
