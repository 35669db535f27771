/**
 * Backup (acted on by the operator where the volume's engine runs, else by one picked by
 * ownerID): a Backup CR with spec.snapshotName and the label backup-volume=<volume> (Longhorn's
 * shape) is backed up to the volume's backup target (spec.backupTargetName, else "default") by a
 * job in this process that reads the snapshot from one RW replica. status.state goes
 * Pending -> InProgress (progress %) -> Completed (url, size, snapshotCreatedAt, ...) or Error
 * (error says why). Deleting the CR cancels a running job; deleting a Completed one deletes the
 * backup from the store (finalizer longhorn.io), unless the target is unavailable (its
 * Unavailable condition says why) or the BackupTarget sync removed the CR (the store no longer
 * has it, or the target's URL was emptied). After an operator restart an InProgress backup
 * without a job here is run again.
 */

import {
  attachmentTicketId,
  type Backup,
  type BackupStatus,
  DEFAULT_BACKUP_TARGET_NAME,
  type Engine,
  LABEL_BACKUP_TARGET,
  LABEL_BACKUP_VOLUME,
  LONGHORN_API_VERSION,
  volumeAttachmentName,
  withLonghornFinalizer,
  withoutLonghornFinalizer,
} from '@longhorn-ts/api';
import {
  type BackupResult,
  type CompressionMethod,
  deleteBackup,
  encodeBackupUrl,
  isBackupError,
} from '@longhorn-ts/dataplane/backup/index';
import type { Logger } from 'pino';
import type { BackupJobs } from '../backup/backup-jobs.js';
import { nextBackupStep, SNAPSHOT_WAIT_MS, statusOfCompleted } from '../backup/backup-status.js';
import { openResolvedTarget, resolveTargetSpec, type TargetReader } from '../backup/target-access.js';
import { targetUnusableReason } from '../backup/target-unusable.js';
import { rfc3339 } from '../conditions.js';
import type { VolumeKeyStore } from '../encryption/volume-key-store.js';
import { KINDS } from '../k8s/kinds.js';
import type { ReconcileResult } from '../runtime/work-queue.js';
import {
  type BackupTargetController,
  KEEP_IN_STORE_ANNOTATION,
  targetOfBackup,
  volumeOfBackup,
} from './backup-target-controller.js';
import { healthyReplica } from './clone-controller.js';
import { type ControllerContext, isMine, keyOf, nameOfKey } from './context.js';

export const BACKUP_CONTROLLER = 'backup';
/** Progress is written at most this often. */
const PROGRESS_WRITE_MS = 1_000;

type Outcome = { ok: true; result: BackupResult; volumeSize: number } | { ok: false; error: string };

export class BackupController {
  private readonly log: Logger;
  /** Finished jobs whose outcome is not on the CR yet. */
  private readonly outcomes = new Map<string, Outcome>();
  /** Progress of running jobs not written yet. */
  private readonly progress = new Map<string, number>();
  private readonly progressWrittenAt = new Map<string, number>();

  constructor(
    private readonly ctx: ControllerContext,
    private readonly reader: TargetReader,
    private readonly jobs: BackupJobs,
    private readonly targets: BackupTargetController,
    /** Encrypted volumes' key records, which their backups carry. */
    private readonly keys: Pick<VolumeKeyStore, 'backupParameters'>,
  ) {
    this.log = ctx.log.child({ controller: BACKUP_CONTROLLER });
    const ns = ctx.id.namespace;
    ctx.dispatcher.watch<Backup>('Backup', BACKUP_CONTROLLER, (b) => [`${ns}/${b.metadata.name}`]);
    // An engine that starts running here brings back the volume's waiting backups.
    ctx.dispatcher.watch<Engine>('Engine', BACKUP_CONTROLLER, (e) =>
      e.spec.nodeID === ctx.id.node
        ? ctx.caches.backups
            .list(ns)
            .filter((b) => volumeOfBackup(b) === e.spec.volumeName && isUnfinished(b))
            .map((b) => `${ns}/${b.metadata.name}`)
        : [],
    );
  }

  allKeys(): string[] {
    return this.ctx.caches.backups.list(this.ctx.id.namespace).map((b) => keyOf(this.ctx, b.metadata.name));
  }

  async reconcile(key: string): Promise<ReconcileResult | undefined> {
    const { ctx } = this;
    const ns = ctx.id.namespace;
    const name = nameOfKey(key);
    const b = ctx.caches.backups.get(name, ns);
    if (b === undefined) {
      await this.jobs.cancel(name, 'the Backup was deleted');
      this.outcomes.delete(name);
      return undefined;
    }
    const volumeName = volumeOfBackup(b);
    const engine = this.engineOf(volumeName);
    const engineRunning = engine?.status?.currentState === 'running' ? (engine.spec.nodeID ?? '') : '';
    // A job running here keeps its CR here until it ends, whoever would be preferred now.
    const mine =
      this.jobs.has(name) ||
      this.outcomes.has(name) ||
      isMine(ctx, key, engineRunning, b.status?.ownerID ?? '');
    if (!mine) return undefined;
    if (b.metadata.deletionTimestamp !== undefined) return this.remove(b);

    const targetName =
      b.metadata.labels?.[LABEL_BACKUP_TARGET] ||
      ctx.caches.volumes.get(volumeName, ns)?.spec.backupTargetName ||
      DEFAULT_BACKUP_TARGET_NAME;
    if (
      !(b.metadata.finalizers ?? []).includes('longhorn.io') ||
      (volumeName !== '' && b.metadata.labels?.[LABEL_BACKUP_VOLUME] !== volumeName) ||
      b.metadata.labels?.[LABEL_BACKUP_TARGET] !== targetName
    ) {
      await ctx.client.patch(
        KINDS.backup,
        name,
        {
          metadata: {
            finalizers: withLonghornFinalizer(b.metadata.finalizers),
            labels: {
              ...(volumeName !== '' ? { [LABEL_BACKUP_VOLUME]: volumeName } : {}),
              [LABEL_BACKUP_TARGET]: targetName,
            },
          },
        },
        b.metadata.resourceVersion,
      );
      return undefined;
    }

    const outcome = this.outcomes.get(name);
    if (outcome !== undefined) return this.writeOutcome(b, outcome, targetName);
    // A detached volume is attached for its backup (frontend either way), as Longhorn does.
    const state = b.status?.state ?? '';
    await this.syncTicket(
      name,
      volumeName,
      (b.spec?.snapshotName ?? '') !== '' && (state === '' || state === 'Pending' || state === 'InProgress'),
    );
    const percent = this.progress.get(name);
    if (percent !== undefined && this.jobs.has(name)) {
      this.progress.delete(name);
      if (b.status?.progress !== percent && b.status?.state === 'InProgress')
        await ctx.client.patchStatus(KINDS.backup, b, { progress: percent });
      return undefined;
    }

    const runningHere = engine !== undefined && engineRunning === ctx.id.node;
    const snapshot = b.spec?.snapshotName ?? '';
    const volume = ctx.caches.volumes.get(volumeName, ns);
    const info = engine?.status?.snapshots?.[snapshot];
    const replica = engine === undefined ? undefined : healthyReplica(engine);
    const ageMs = ctx.clock.now() - Date.parse(b.metadata.creationTimestamp ?? '');
    let step = nextBackupStep(b, {
      jobRunning: this.jobs.has(name),
      engineRunningHere: runningHere,
      volumeExists: volume !== undefined && volume.metadata.deletionTimestamp === undefined,
      snapshotExists: info !== undefined && info.removed !== true,
      replicaAvailable: replica !== undefined,
      ageMs: Number.isFinite(ageMs) ? ageMs : 0,
    });
    const bt = ctx.caches.backupTargets.get(targetName, ns);
    if (step.do === 'start') {
      const unavailable =
        bt === undefined
          ? `backup target ${targetName} does not exist`
          : !bt.spec?.backupTargetURL
            ? `backup target ${targetName} has no URL`
            : bt.status?.available !== true
              ? `backup target ${targetName} is unavailable: ${
                  bt.status?.conditions?.find((c) => c.type === 'Unavailable')?.message || 'not checked yet'
                }`
              : undefined;
      if (unavailable !== undefined)
        step =
          ageMs > SNAPSHOT_WAIT_MS
            ? { do: 'fail', message: unavailable }
            : { do: 'wait', message: unavailable, requeueAfterMs: 5_000 };
    }
    switch (step.do) {
      case 'nothing':
        return undefined;
      case 'fail':
        this.log.warn({ backup: name, volume: volumeName, err: step.message }, 'backup failed');
        await ctx.client.patchStatus(KINDS.backup, b, {
          ownerID: ctx.id.node,
          state: 'Error',
          error: step.message,
          volumeName,
          snapshotName: snapshot,
          backupTargetName: targetName,
        });
        return undefined;
      case 'wait':
        if (
          b.status?.state !== 'Pending' ||
          b.status?.error !== step.message ||
          b.status?.ownerID !== ctx.id.node
        )
          await ctx.client.patchStatus(KINDS.backup, b, {
            ownerID: ctx.id.node,
            state: b.status?.state === 'InProgress' ? 'InProgress' : 'Pending',
            error: step.message,
            volumeName,
            snapshotName: snapshot,
            backupTargetName: targetName,
          });
        return { requeueAfterMs: step.requeueAfterMs };
      case 'start':
        return this.start(b, {
          volumeName,
          targetName,
          snapshot,
          replica: replica!,
          volumeSize: Number(volume?.spec.size ?? '0'),
          targetUrl: bt!.spec!.backupTargetURL!,
          retry: step.retry,
        });
    }
  }

  private async start(
    b: Backup,
    p: {
      volumeName: string;
      targetName: string;
      snapshot: string;
      replica: { id: string; address: string };
      volumeSize: number;
      targetUrl: string;
      retry: boolean;
    },
  ): Promise<undefined> {
    const { ctx } = this;
    const name = b.metadata.name;
    const volume = ctx.caches.volumes.get(p.volumeName, ctx.id.namespace);
    const log = this.log.child({ backup: name, volume: p.volumeName, replica: p.replica.id });
    const status: BackupStatus = {
      ownerID: ctx.id.node,
      state: 'InProgress',
      progress: 0,
      error: '',
      snapshotName: p.snapshot,
      volumeName: p.volumeName,
      volumeSize: String(p.volumeSize),
      volumeCreated: volume?.metadata.creationTimestamp ?? '',
      replicaAddress: p.replica.address,
      backupTargetName: p.targetName,
      url: encodeBackupUrl(p.targetUrl, p.volumeName, name),
      ...(p.retry
        ? {
            messages: {
              ...(b.status?.messages ?? {}),
              retried: `run again at ${rfc3339(ctx.clock.now())}: the operator that ran it stopped`,
            },
          }
        : {}),
    };
    // The write claims the CR (resourceVersion): a second operator that raced loses here.
    await ctx.client.patchStatus(KINDS.backup, b, status);
    const compression = (volume?.spec.backupCompressionMethod ||
      ctx.settings.get('backup-compression-method')) as CompressionMethod;
    const key = keyOf(ctx, name);
    log.info({ snapshot: p.snapshot, retry: p.retry }, 'backup started');
    this.jobs
      .start({
        backup: name,
        volume: p.volumeName,
        snapshot: p.snapshot,
        replica: p.replica,
        openTarget: async () => {
          const bt = await this.reader.backupTarget(p.targetName);
          if (bt === undefined) throw new Error(`backup target ${p.targetName} does not exist`);
          return openResolvedTarget(await resolveTargetSpec(bt, this.reader));
        },
        compression,
        mode: b.spec?.backupMode === 'full' ? 'full' : 'incremental',
        concurrency: Math.max(1, ctx.settings.get('backup-concurrent-limit')),
        labels: b.spec?.labels ?? {},
        // An engine-encrypted volume's blocks are its ciphertext: the backup carries its key record.
        ...(volume?.spec.encrypted === true
          ? {
              parameters: () =>
                this.keys.backupParameters(
                  p.volumeName,
                  p.snapshot,
                  ctx.caches.snapshots.get(p.snapshot, ctx.id.namespace)?.status?.creationTime,
                ),
            }
          : {}),
        progressTimeoutMs: ctx.settings.get('backup-execution-timeout') * 60_000,
        onProgress: (pr) => {
          this.progress.set(name, pr.percent);
          const now = ctx.clock.now();
          if (now - (this.progressWrittenAt.get(name) ?? 0) >= PROGRESS_WRITE_MS) {
            this.progressWrittenAt.set(name, now);
            ctx.dispatcher.add(BACKUP_CONTROLLER, key);
          }
        },
        log,
      })
      .then(
        (result) => {
          log.info(
            {
              url: result.url,
              incremental: result.stats.incremental,
              bytesUploaded: result.stats.bytesUploaded,
              ms: Math.round(result.stats.elapsedMs),
            },
            'backup completed',
          );
          this.outcomes.set(name, { ok: true, result, volumeSize: p.volumeSize });
        },
        (err: unknown) => {
          if (isBackupError(err, 'CANCELLED')) return;
          const message = (err as Error).message;
          log.warn({ err: message }, 'backup failed');
          this.outcomes.set(name, { ok: false, error: message });
        },
      )
      .finally(() => {
        this.progress.delete(name);
        this.progressWrittenAt.delete(name);
        ctx.dispatcher.add(BACKUP_CONTROLLER, key);
      });
    return undefined;
  }

  private async writeOutcome(b: Backup, o: Outcome, targetName: string): Promise<undefined> {
    const { ctx } = this;
    const facts = { node: ctx.id.node, target: targetName, now: rfc3339(ctx.clock.now()) };
    if (o.ok) {
      await ctx.client.patchStatus(
        KINDS.backup,
        b,
        statusOfCompleted(
          b.status,
          { url: o.result.url, backup: o.result.backup, volumeSize: o.volumeSize },
          facts,
        ),
      );
    } else {
      await ctx.client.patchStatus(KINDS.backup, b, { ownerID: ctx.id.node, state: 'Error', error: o.error });
    }
    this.outcomes.delete(b.metadata.name);
    // The BackupVolume and the volume's lastBackup follow from the store.
    await this.targets.requestSync(targetName);
    return undefined;
  }

  /** The CR is being deleted: cancel, delete from the store when it should, drop the finalizer. */
  private async remove(b: Backup): Promise<undefined> {
    const { ctx } = this;
    const name = b.metadata.name;
    const targetName = targetOfBackup(b);
    const log = this.log.child({ backup: name, volume: volumeOfBackup(b) });
    if (await this.jobs.cancel(name, 'the Backup was deleted')) log.info('running backup cancelled');
    this.outcomes.delete(name);
    const keep = b.metadata.annotations?.[KEEP_IN_STORE_ANNOTATION] === 'true';
    const state = b.status?.state ?? '';
    const maybeInStore = state === 'Completed' || (state === '' && !b.spec?.snapshotName);
    if (!keep && maybeInStore && (b.metadata.finalizers ?? []).length > 0) {
      const bt = ctx.caches.backupTargets.get(targetName, ctx.id.namespace);
      const why = targetUnusableReason(bt, targetName);
      if (why !== undefined) {
        log.warn({ reason: why }, 'Backup removed without deleting the backup from the store');
        ctx.events.record(
          { ...b, apiVersion: LONGHORN_API_VERSION, kind: 'Backup' },
          'Warning',
          'BackupKeptInStore',
          `the backup was not deleted from the store: ${why}`,
        );
      } else {
        const target = openResolvedTarget(await resolveTargetSpec(bt!, this.reader));
        try {
          const r = await deleteBackup({ target, volume: volumeOfBackup(b), backup: name, log });
          log.info(
            { blocksDeleted: r.blocksDeleted, gcSkipped: r.gcSkipped },
            'backup deleted from the store',
          );
        } catch (err) {
          if (!isBackupError(err, 'NOT_FOUND')) throw err;
        } finally {
          await target.close().catch(() => undefined);
        }
      }
    }
    await this.syncTicket(name, volumeOfBackup(b), false);
    if ((b.metadata.finalizers ?? []).length > 0)
      await ctx.client.patch(
        KINDS.backup,
        name,
        { metadata: { finalizers: withoutLonghornFinalizer(b.metadata.finalizers) } },
        b.metadata.resourceVersion,
      );
    await this.targets.requestSync(targetName);
    return undefined;
  }

  /** Files or withdraws the backup-controller attachment ticket of `backup` on its volume. */
  private async syncTicket(backup: string, volumeName: string, want: boolean): Promise<void> {
    if (volumeName === '') return;
    const { ctx } = this;
    const ns = ctx.id.namespace;
    const vaName = volumeAttachmentName(volumeName);
    const va = ctx.caches.volumeAttachments.get(vaName, ns);
    const volume = ctx.caches.volumes.get(volumeName, ns);
    if (va === undefined || volume === undefined) return;
    const id = attachmentTicketId('backup-controller', backup);
    const has = va.spec.attachmentTickets?.[id] !== undefined;
    if (want === has || (want && volume.metadata.deletionTimestamp !== undefined)) return;
    const ticket = {
      id,
      type: 'backup-controller',
      // Longhorn files it for the volume's owner: where a detached volume attaches.
      nodeID: volume.status?.ownerID || ctx.id.node,
      parameters: { disableFrontend: 'any' },
    };
    try {
      await ctx.client.patch(KINDS.volumeAttachment, vaName, {
        spec: { attachmentTickets: { [id]: want ? ticket : null } },
      });
      this.log.info(
        { backup, volume: volumeName },
        want ? 'backup attachment ticket filed' : 'backup attachment ticket withdrawn',
      );
    } catch (err) {
      if ((err as { code?: string }).code !== 'NOT_FOUND') throw err;
    }
  }

  private engineOf(volume: string): Engine | undefined {
    if (volume === '') return undefined;
    return this.ctx.caches.engines
      .list(this.ctx.id.namespace)
      .find((e) => e.spec.volumeName === volume && e.metadata.deletionTimestamp === undefined);
  }
}

function isUnfinished(b: Backup): boolean {
  const s = b.status?.state ?? '';
  return b.metadata.deletionTimestamp !== undefined || s === '' || s === 'Pending' || s === 'InProgress';
}
