/**
 * Restore from a backup and standby (DR) volumes (acted on by the volume's owner): gathers the
 * facts `restoreStep` (volume/volume-restore.ts) decides on and carries out its step: the
 * backup target read (through the BackupTarget CR serving the URL), Longhorn's status fields
 * (restoreRequired, restoreInitiated, isStandby, lastBackup) and Restore condition, the restore
 * ticket, restore jobs into the replicas
 * (backup/restore-job.ts, run in this process, progress in the condition and the Engine's
 * restoreStatus), the revert and fold of restore layers through the engine, and Events.
 */

import type { Engine, RestoreStatus, Volume, VolumeAttachment, VolumeStatus } from '@longhorn-ts/api';
import { loadBackup, loadVolume } from '@longhorn-ts/dataplane/backup/config-store';
import { BackupError } from '@longhorn-ts/dataplane/backup/errors';
import { inspectBackup } from '@longhorn-ts/dataplane/backup/restore-backup';
import type { BackupTarget } from '@longhorn-ts/dataplane/backup/target';
import type { EngineClient } from '@longhorn-ts/dataplane/engine/engine-client';
import type { Logger } from 'pino';
import { isPermanentRestoreError, runRestoreJob } from '../backup/restore-job.js';
import { DEFAULT_POLL_MS, type RestoreTargets } from '../backup/restore-target.js';
import { type Condition, getCondition, rfc3339, setCondition } from '../conditions.js';
import { carriedKeyRecord, restoreKeyProblem } from '../encryption/backup-key-record.js';
import type { VolumeKeyStore } from '../encryption/volume-key-store.js';
import { recordVolumeEvent } from '../k8s/events.js';
import { KINDS } from '../k8s/kinds.js';
import type { ReconcileResult } from '../runtime/work-queue.js';
import { AttacherType } from '../volume/attachment-tickets.js';
import {
  heldForRestore,
  parseFromBackup,
  type RestoreFacts,
  type RestoreJobFacts,
  type RestoreStep,
  restoreStep,
  restoreTicketId,
  type TargetFacts,
} from '../volume/volume-restore.js';
import { type ControllerContext, nameOfKey } from './context.js';
import type { EngineController } from './engine-controller.js';

export const RESTORE_CONTROLLER = 'volume-restore';

const RESTORE = 'Restore';
const IN_PROGRESS = 'RestoreInProgress';
const FAILURE = 'RestoreFailure';
/** A transient target error is asked again after this long (a plain restore's waits). */
const TARGET_RETRY_MS = 5_000;
/** A restore refused for its keys looks again this often (the crypto Secret may be fixed). */
const KEY_RETRY_MS = 30_000;

interface TargetRead {
  facts: TargetFacts;
  readAt: number;
  pollMs: number;
}

interface Job extends RestoreJobFacts {
  abort: AbortController;
  /** The percent last written to the volume's condition. */
  reported: number;
  /** When the job last made progress (its start, then each percent). */
  progressAt: number;
  /** Cancelled by the stall watchdog (its failure then says so). */
  stalled: boolean;
}

/** A running restore whose percent has not moved for this long is cancelled and tried again. */
export const RESTORE_STALL_MS = 600_000;

export class RestoreController {
  private readonly log: Logger;
  private readonly reads = new Map<string, TargetRead>();
  private readonly jobs = new Map<string, Job>();
  /** Engine status reports not written yet (see flushEngineReport), per volume. */
  private readonly engineReports = new Map<
    string,
    { backup: string; state: Job['state']; percent: number; error: string; url: string }
  >();
  /** When an activation (spec.Standby false on a standby volume) was first seen, per volume. */
  private readonly activations = new Map<string, number>();

  constructor(
    private readonly ctx: ControllerContext,
    private readonly engines: EngineController,
    private readonly targets: RestoreTargets,
    /** Encrypted volumes' key records: a restored one takes its backup's. */
    private readonly keys?: Pick<VolumeKeyStore, 'adoptBackupRecord'>,
  ) {
    this.log = ctx.log.child({ controller: RESTORE_CONTROLLER });
    const key = (n: string) => `${ctx.id.namespace}/${n}`;
    const d = ctx.dispatcher;
    d.watch<Volume>('Volume', RESTORE_CONTROLLER, (v) => (v.spec.fromBackup ? [key(v.metadata.name)] : []));
    d.watch<VolumeAttachment>('VolumeAttachment', RESTORE_CONTROLLER, (va) =>
      va.spec.attachmentTickets?.[restoreTicketId(va.spec.volume || va.metadata.name)]
        ? [key(va.spec.volume || va.metadata.name)]
        : [],
    );
    d.watch<Engine>('Engine', RESTORE_CONTROLLER, (e) => {
      const v = e.spec.volumeName ?? '';
      return v && ctx.caches.volumes.get(v, ctx.id.namespace)?.spec.fromBackup ? [key(v)] : [];
    });
  }

  async reconcile(key: string): Promise<ReconcileResult | undefined> {
    const { ctx } = this;
    const ns = ctx.id.namespace;
    const name = nameOfKey(key);
    const volume = ctx.caches.volumes.get(name, ns);
    if (volume === undefined || volume.metadata.deletionTimestamp !== undefined) {
      this.forget(name);
      if (volume === undefined) {
        this.engineReports.delete(name);
        return undefined;
      }
    }
    if ((volume.status?.ownerID ?? '') !== ctx.id.node) return undefined;
    const log = this.log.child({ volume: name });
    const s = volume.status ?? {};
    const now = ctx.clock.now();
    const restoreCondition = getCondition(s.conditions as Condition[] | undefined, RESTORE);
    const ticketId = restoreTicketId(name);
    const va = ctx.caches.volumeAttachments.get(name, ns);
    const ticket = va?.spec.attachmentTickets?.[ticketId];
    const engine = this.engineOf(name);
    const held = heldForRestore(volume) && volume.metadata.deletionTimestamp === undefined;

    let read: TargetRead | undefined;
    if (held) read = await this.targetFacts(volume, now, log);
    const service = engine ? await this.engines.service(engine) : undefined;
    const ready =
      service !== undefined &&
      s.state === 'attached' &&
      s.currentNodeID === ctx.id.node &&
      (ticket?.nodeID ?? '') === ctx.id.node;
    const listed = held && ready && service ? await chainOf(service, log) : undefined;
    const job = this.jobs.get(name);
    // Whatever the step: a frozen replica can also keep the engine from listing the chain, and
    // the restore would then wait for that engine behind a job that never ends.
    if (job) this.cancelIfStalled(job, now, log);

    const facts: RestoreFacts = {
      now,
      volume: {
        name,
        ...(volume.spec.fromBackup !== undefined && { fromBackup: volume.spec.fromBackup }),
        standby: volume.spec.Standby === true,
        size: /^[0-9]+$/.test(volume.spec.size ?? '') ? Number(volume.spec.size) : 0,
        deleting: volume.metadata.deletionTimestamp !== undefined,
        restoreRequired: s.restoreRequired === true,
        restoreInitiated: s.restoreInitiated === true,
        isStandby: s.isStandby === true,
        lastBackup: s.lastBackup ?? '',
        failure: restoreCondition?.reason === FAILURE ? restoreCondition.message : '',
      },
      ...(read !== undefined && { target: read.facts }),
      ticket: ticket !== undefined,
      ticketElsewhere: ticket !== undefined && (ticket.nodeID ?? '') !== ctx.id.node,
      ready,
      rebuilding: Object.values(engine?.status?.replicaModeMap ?? {}).includes('WO'),
      ...(listed !== undefined &&
        ('error' in listed ? { chainError: listed.error } : { chain: listed.chain })),
      ...(job !== undefined && { job }),
      pollMs: read?.pollMs ?? DEFAULT_POLL_MS,
    };
    const step = restoreStep(facts);
    const result = await this.carryOut(step, volume, engine, service, facts, log);
    if (await this.flushEngineReport(name, this.engineOf(name))) return result;
    return { requeueAfterMs: Math.min(result?.requeueAfterMs ?? 1_000, 1_000) };
  }

  private async carryOut(
    step: RestoreStep,
    volume: Volume,
    engine: Engine | undefined,
    service: EngineClient | undefined,
    facts: RestoreFacts,
    log: Logger,
  ): Promise<ReconcileResult | undefined> {
    const name = volume.metadata.name;
    switch (step.kind) {
      case 'none':
        return undefined;
      case 'release':
        await this.removeTicket(name);
        log.info('restore ticket released');
        return undefined;
      case 'readTarget':
        return { requeueAfterMs: TARGET_RETRY_MS };
      case 'fail': {
        await this.writeStatus(volume, {}, 'False', FAILURE, step.message);
        recordVolumeEvent(this.ctx.events, volume, 'Warning', 'RestoreFailed', step.message);
        log.warn({ reason: step.message, terminal: step.terminal }, 'restore failed');
        return step.terminal ? undefined : { requeueAfterMs: facts.pollMs };
      }
      case 'setSize':
        try {
          await this.ctx.client.patch(
            KINDS.volume,
            name,
            { spec: { size: String(step.size) } },
            volume.metadata.resourceVersion,
          );
        } catch (err) {
          // Only a refusal (the webhook, the schema) is final; a conflict or an outage is retried.
          const status = (err as { status?: number }).status;
          if (status !== 400 && status !== 403 && status !== 422) throw err;
          const message = `spec.size is not set and could not be set to the backup volume's size ${step.size}: ${(err as Error).message}; delete the volume and create it with that size`;
          await this.writeStatus(volume, {}, 'False', FAILURE, message);
          recordVolumeEvent(this.ctx.events, volume, 'Warning', 'RestoreFailed', message);
          return undefined;
        }
        log.info({ size: step.size }, "spec.size set to the backup volume's size");
        return undefined;
      case 'initiate': {
        const src = parseFromBackup(volume.spec.fromBackup);
        await this.writeStatus(
          volume,
          step.status,
          'True',
          IN_PROGRESS,
          `restoring backup ${step.status.lastBackup}`,
        );
        recordVolumeEvent(
          this.ctx.events,
          volume,
          'Normal',
          'RestoreInitiated',
          `${step.status.isStandby ? 'standby volume following' : 'restoring from'} ${
            typeof src === 'object' ? `backup volume ${src.backupVolume}` : ''
          } (backup ${step.status.lastBackup})`,
        );
        log.info({ backup: step.status.lastBackup, standby: step.status.isStandby }, 'restore initiated');
        return undefined;
      }
      case 'addTicket': {
        // Before the engine first starts: an encrypted volume's key record is its backup's.
        const problem = await this.keysBeforeAttach(volume);
        if (problem) {
          await this.writeStatus(volume, {}, 'False', FAILURE, problem);
          recordVolumeEvent(this.ctx.events, volume, 'Warning', 'RestoreFailed', problem);
          log.warn({ reason: problem }, 'restore refused');
          return { requeueAfterMs: KEY_RETRY_MS };
        }
        await this.addTicket(name);
        log.info({ node: this.ctx.id.node }, 'restore ticket filed');
        return { requeueAfterMs: 2_000 };
      }
      case 'wait': {
        const job = this.jobs.get(name);
        if (!step.progress) {
          // Mid-restore, what it waits for shows in the condition (an attempt that failed and
          // is tried again, the attach, a rebuild), not a stale "0%".
          await this.reportMidRestore(volume, `waiting for ${step.reason}`);
        } else if (job && !job.stalled && job.reported !== step.progress.percent) {
          job.reported = step.progress.percent;
          await this.writeStatus(
            volume,
            {},
            'True',
            IN_PROGRESS,
            `restoring backup ${step.progress.backup}: ${step.progress.percent}%`,
          );
          this.reportToEngine(name, job, volume.spec.fromBackup ?? '');
        }
        return { requeueAfterMs: Math.max(200, step.pollMs) };
      }
      case 'start':
        return this.start(step, volume, engine, service!, log);
      case 'revert':
        try {
          await service!.snapshotRevert(step.layer);
        } catch (err) {
          const message = `moving the head onto ${step.layer}: ${(err as Error).message}`;
          log.warn(
            { err: (err as Error).message, layer: step.layer },
            'revert onto the restored layer failed',
          );
          await this.reportMidRestore(volume, message);
          return { requeueAfterMs: 5_000 };
        }
        log.info({ layer: step.layer }, 'head reverted onto the restored layer');
        return { requeueAfterMs: 200 };
      case 'fold':
        try {
          for (const l of step.layers) await service!.snapshotDelete(l);
          await service!.snapshotPurge();
          log.info({ layers: step.layers }, 'older restore layers folded');
        } catch (err) {
          log.warn(
            { err: (err as Error).message, layers: step.layers },
            'older restore layers not folded yet',
          );
          await this.reportMidRestore(
            volume,
            `folding older restore layers ${step.layers.join(', ')}: ${(err as Error).message}`,
          );
          return { requeueAfterMs: 5_000 };
        }
        return { requeueAfterMs: 200 };
      case 'following': {
        const message = `standby: restored backup ${step.backup}; looking for newer backups every ${Math.round(
          step.pollMs / 1000,
        )} s`;
        await this.writeStatus(volume, { lastBackup: step.backup }, 'False', '', message);
        const job = this.jobs.get(name);
        if (job?.state === 'done') this.reportToEngine(name, job, volume.spec.fromBackup ?? '');
        return { requeueAfterMs: step.pollMs };
      }
      case 'finish': {
        await this.writeStatus(
          volume,
          { restoreRequired: false, isStandby: false, lastBackup: step.backup },
          'False',
          '',
          `restored from backup ${step.backup}`,
        );
        const job = this.jobs.get(name);
        if (job) this.reportToEngine(name, job, volume.spec.fromBackup ?? '');
        recordVolumeEvent(
          this.ctx.events,
          volume,
          'Normal',
          'RestoreCompleted',
          `${facts.volume.isStandby ? 'activated with' : 'restored from'} backup ${step.backup}`,
        );
        log.info({ backup: step.backup, activated: facts.volume.isStandby }, 'restore completed');
        this.forget(name);
        return undefined;
      }
    }
  }

  private async start(
    step: Extract<RestoreStep, { kind: 'start' }>,
    volume: Volume,
    engine: Engine | undefined,
    service: EngineClient,
    log: Logger,
  ): Promise<ReconcileResult | undefined> {
    const name = volume.metadata.name;
    const limit = this.ctx.settings.get('concurrent-volume-backup-restore-per-node-limit');
    const running = [...this.jobs.values()].filter((j) => j.state === 'running').length;
    if (running >= limit) {
      log.info({ running, limit }, 'restore waits for a slot on this node');
      return { requeueAfterMs: 5_000 };
    }
    const src = parseFromBackup(volume.spec.fromBackup);
    if (typeof src !== 'object') return undefined;
    const replicas = rwReplicas(engine);
    const previous = this.jobs.get(name);
    const job: Job = {
      backup: step.backup,
      from: step.from,
      state: 'running',
      percent: 0,
      error: '',
      permanent: false,
      attempts: previous?.backup === step.backup ? previous.attempts + 1 : 1,
      finishedAt: 0,
      abort: new AbortController(),
      reported: -1,
      progressAt: this.ctx.clock.now(),
      stalled: false,
    };
    // The status first: a write that loses a race (409, e.g. to the activation's spec patch)
    // throws before anything runs, and the requeued reconcile starts over. Registered first, a
    // job that never ran would have stood "running" at 0% for good.
    await this.writeStatus(
      volume,
      { lastBackup: step.backup },
      'True',
      IN_PROGRESS,
      `restoring backup ${step.backup}${step.from ? ` (incremental from ${step.from})` : ''}: 0%`,
    );
    this.jobs.set(name, job);
    // A new attempt replaces what the Engine shows of the last one (its failure) at once.
    this.reportToEngine(name, job, volume.spec.fromBackup ?? '');
    log.info(
      { backup: step.backup, from: step.from, layer: step.layer, replicas: replicas.map((r) => r.id) },
      'restore started',
    );
    const key = `${this.ctx.id.namespace}/${name}`;
    void (async () => {
      const opened = await this.targets.open(src.targetUrl, volume.spec.backupTargetName);
      try {
        // Every backup a (standby) volume takes in must be under the data key it holds.
        const problem = await this.backupKeysFit(volume, opened.target, src.backupVolume, step.backup);
        if (problem) throw new BackupError('INVALID_ARGUMENT', problem);
        const res = await runRestoreJob({
          target: opened.target,
          ...(opened.encryptionKey ? { encryptionKey: opened.encryptionKey } : {}),
          backupVolume: src.backupVolume,
          backup: step.backup,
          from: step.from,
          layer: step.layer,
          parent: step.parent,
          replicas,
          revert: async (layer) => void (await service.snapshotRevert(layer)),
          concurrency: Math.max(1, this.ctx.settings.get('restore-concurrent-limit')),
          signal: job.abort.signal,
          onProgress: (p) => {
            job.percent = p;
            job.progressAt = this.ctx.clock.now();
          },
          log,
        });
        job.percent = 100;
        log.info(
          { backup: step.backup, blocks: res.blocks, bytes: res.bytesDownloaded, elapsedMs: res.elapsedMs },
          'restore done',
        );
      } finally {
        await opened.target.close().catch(() => {});
      }
    })().then(
      () => {
        job.state = 'done';
        job.finishedAt = this.ctx.clock.now();
        this.ctx.dispatcher.add(RESTORE_CONTROLLER, key);
      },
      (err: unknown) => {
        job.state = 'failed';
        job.error = job.stalled
          ? `no progress for ${RESTORE_STALL_MS / 1000} s at ${job.percent}% (cancelled)`
          : (err as Error).message;
        job.permanent = !job.stalled && isPermanentRestoreError(err);
        job.finishedAt = this.ctx.clock.now();
        log.warn({ err: job.error, permanent: job.permanent, backup: step.backup }, 'restore job failed');
        // The Engine shows the failure (not the last percent, still restoring) until the next
        // attempt starts, whatever step the volume waits in meanwhile. A job the controller
        // forgot (its volume deleted or finished) reports nothing.
        if (this.jobs.get(name) === job) this.reportToEngine(name, job, volume.spec.fromBackup ?? '');
        this.ctx.dispatcher.add(RESTORE_CONTROLLER, key);
      },
    );
    return { requeueAfterMs: 1_000 };
  }

  /** The stall watchdog: cancels a running job whose percent has not moved for RESTORE_STALL_MS. */
  private cancelIfStalled(job: Job, now: number, log: Logger): void {
    if (job.state !== 'running' || job.stalled || now - job.progressAt <= RESTORE_STALL_MS) return;
    job.stalled = true;
    log.warn({ backup: job.backup, percent: job.percent }, 'restore stalled: cancelled, to be tried again');
    job.abort.abort();
  }

  /** keysBeforeAttach for the backup the volume restores first (status.lastBackup). */
  private async keysBeforeAttach(volume: Volume): Promise<string | null> {
    const src = parseFromBackup(volume.spec.fromBackup);
    const backup = volume.status?.lastBackup;
    if (typeof src !== 'object' || !backup) return null;
    const opened = await this.targets.open(src.targetUrl, volume.spec.backupTargetName);
    try {
      return await this.backupKeysFit(volume, opened.target, src.backupVolume, backup);
    } finally {
      await opened.target.close().catch(() => {});
    }
  }

  /**
   * Why `volume` cannot take `backup` in, or null: an engine-encrypted volume's backup holds its
   * ciphertext and carries its key record; an encrypted volume restores only such a backup, and
   * takes its record (checked against the volume's crypto Secret) before its engine first starts.
   */
  private async backupKeysFit(
    volume: Volume,
    target: BackupTarget,
    backupVolume: string,
    backup: string,
  ): Promise<string | null> {
    const cfg = await loadBackup(target, backupVolume, backup);
    let carried: ReturnType<typeof carriedKeyRecord>;
    try {
      carried = carriedKeyRecord(cfg.Parameters, backup);
    } catch (err) {
      return (err as Error).message;
    }
    const encrypted = volume.spec.encrypted === true;
    const problem = restoreKeyProblem({ name: volume.metadata.name, encrypted }, backup, carried);
    if (problem || !carried) return problem;
    if (!this.keys) return `volume ${volume.metadata.name} is encrypted, and this operator has no key store`;
    try {
      await this.keys.adoptBackupRecord(volume, carried, backup);
    } catch (err) {
      if ((err as Error).name === 'EncryptionKeyError') return (err as Error).message;
      throw err;
    }
    return null;
  }

  /** The target's word on the backup volume, read again when a standby volume's poll is due. */
  private async targetFacts(volume: Volume, now: number, log: Logger): Promise<TargetRead | undefined> {
    const name = volume.metadata.name;
    const src = parseFromBackup(volume.spec.fromBackup);
    if (typeof src !== 'object') return undefined;
    const s = volume.status ?? {};
    const following = volume.spec.Standby === true || s.isStandby === true;
    const activating = volume.spec.Standby !== true && s.isStandby === true;
    if (activating && !this.activations.has(name)) this.activations.set(name, now);
    const cached = this.reads.get(name);
    const due =
      cached === undefined ||
      (following && now - cached.readAt >= cached.pollMs) ||
      (!cached.facts.ok && !cached.facts.permanent && now - cached.readAt >= TARGET_RETRY_MS) ||
      (activating && cached.readAt < (this.activations.get(name) ?? now));
    if (!due) return cached;
    // A running job reads the target itself; its outcome is what counts meanwhile.
    if (cached !== undefined && this.jobs.get(name)?.state === 'running') return cached;
    let pollMs = cached?.pollMs ?? DEFAULT_POLL_MS;
    let facts: TargetFacts;
    try {
      const opened = await this.targets.open(src.targetUrl, volume.spec.backupTargetName);
      pollMs = opened.pollMs;
      try {
        const vol = await loadVolume(opened.target, src.backupVolume);
        let backupFound = true;
        if (src.backup && !s.restoreInitiated) {
          await inspectBackup(opened.target, src.backupVolume, src.backup, opened.encryptionKey).catch(
            (err: unknown) => {
              if ((err as { code?: string }).code !== 'NOT_FOUND') throw err;
              backupFound = false;
            },
          );
        }
        facts = { ok: true, size: vol.Size, lastBackup: vol.LastBackupName ?? '', backupFound };
      } finally {
        await opened.target.close().catch(() => {});
      }
    } catch (err) {
      facts = { ok: false, message: (err as Error).message, permanent: isPermanentRestoreError(err) };
      log.warn({ err: facts.message, permanent: facts.permanent }, 'backup target read failed');
    }
    const read = { facts, readAt: now, pollMs };
    this.reads.set(name, read);
    return read;
  }

  private forget(name: string): void {
    this.jobs.get(name)?.abort.abort();
    this.jobs.delete(name);
    this.reads.delete(name);
    this.activations.delete(name);
  }

  private engineOf(volume: string): Engine | undefined {
    return this.ctx.caches.engines
      .list(this.ctx.id.namespace)
      .find((e) => e.spec.volumeName === volume && e.metadata.deletionTimestamp === undefined);
  }

  /** Status fields and the Restore condition in one write (skipped when nothing changes). */
  private async writeStatus(
    volume: Volume,
    fields: Partial<VolumeStatus>,
    status: 'True' | 'False',
    reason: string,
    message: string,
  ): Promise<void> {
    const prev = volume.status ?? {};
    const conditions = setCondition(
      prev.conditions as Condition[] | undefined,
      RESTORE,
      status,
      reason,
      message,
      rfc3339(this.ctx.clock.now()),
    );
    const changed =
      Object.entries(fields).some(([k, v]) => prev[k as keyof VolumeStatus] !== v) ||
      JSON.stringify(getCondition(conditions, RESTORE)) !==
        JSON.stringify(getCondition(prev.conditions as Condition[] | undefined, RESTORE));
    if (!changed) return;
    await this.ctx.client.patchStatus(KINDS.volume, volume, { ...fields, conditions });
  }

  /**
   * While the Restore condition says a restore is in progress, replaces its message with what
   * the restore waits for now (the backup it is after stays named first).
   */
  private async reportMidRestore(volume: Volume, what: string): Promise<void> {
    const c = getCondition(volume.status?.conditions as Condition[] | undefined, RESTORE);
    if (c?.reason !== IN_PROGRESS) return;
    const backup = volume.status?.lastBackup ?? '';
    await this.writeStatus(volume, {}, 'True', IN_PROGRESS, `restoring backup ${backup}: ${what}`);
  }

  /** Queues Longhorn's Engine restoreStatus / lastRestoredBackup for the job's current state. */
  private reportToEngine(volume: string, job: Job, url: string): void {
    this.engineReports.set(volume, {
      backup: job.backup,
      state: job.state,
      percent: job.percent,
      error: job.error,
      url,
    });
  }

  /**
   * Writes a queued Engine report. The engine controller rewrites that status every few seconds,
   * so a write from a stale cache meets a 409: the report stays queued for the next reconcile.
   * Resolves true when nothing is left to write.
   */
  private async flushEngineReport(volume: string, engine: Engine | undefined): Promise<boolean> {
    const r = this.engineReports.get(volume);
    if (r === undefined) return true;
    if (engine === undefined) {
      this.engineReports.delete(volume);
      return true;
    }
    const done = r.state === 'done';
    const restoreStatus: Record<string, RestoreStatus> = {};
    for (const rep of rwReplicas(engine)) {
      restoreStatus[rep.address] = {
        isRestoring: r.state === 'running',
        lastRestored: done ? r.backup : (engine.status?.lastRestoredBackup ?? ''),
        currentRestoringBackup: r.state === 'running' ? r.backup : '',
        progress: r.percent,
        error: r.error,
        filename: '',
        state: r.state === 'running' ? 'in_progress' : done ? 'complete' : 'error',
        backupURL: r.url,
      };
    }
    try {
      await this.ctx.client.patchStatus(KINDS.engine, engine, {
        restoreStatus,
        ...(done ? { lastRestoredBackup: r.backup } : {}),
      });
    } catch (err) {
      this.log.debug({ err: (err as Error).message, volume }, 'engine restore status not written yet');
      return false;
    }
    if (this.engineReports.get(volume) === r) this.engineReports.delete(volume);
    return true;
  }

  private async addTicket(volume: string): Promise<void> {
    const va = this.ctx.caches.volumeAttachments.get(volume, this.ctx.id.namespace);
    const id = restoreTicketId(volume);
    if (va === undefined || va.spec.attachmentTickets?.[id]?.nodeID === this.ctx.id.node) return;
    await this.ctx.client.patch(KINDS.volumeAttachment, va.metadata.name, {
      spec: {
        attachmentTickets: {
          [id]: {
            id,
            type: AttacherType.volumeRestoreController,
            nodeID: this.ctx.id.node,
            parameters: { disableFrontend: 'true' },
            generation: 0,
          },
        },
      },
    });
  }

  private async removeTicket(volume: string): Promise<void> {
    const va = this.ctx.caches.volumeAttachments.get(volume, this.ctx.id.namespace);
    const id = restoreTicketId(volume);
    if (va?.spec.attachmentTickets?.[id] === undefined) return;
    await this.ctx.client.patch(KINDS.volumeAttachment, va.metadata.name, {
      spec: { attachmentTickets: { [id]: null } },
    });
  }
}

/** The replicas the running engine has in RW, at the addresses it reaches them. */
export function rwReplicas(e: Engine | undefined): Array<{ id: string; address: string }> {
  if (e?.status?.currentState !== 'running') return [];
  const modes = e.status.replicaModeMap ?? {};
  const addresses = { ...(e.spec.replicaAddressMap ?? {}), ...(e.status.currentReplicaAddressMap ?? {}) };
  return Object.keys(modes)
    .sort()
    .filter((r) => modes[r] === 'RW' && addresses[r])
    .map((id) => ({ id, address: addresses[id]! }));
}

/** The layer under the head and every other live layer, as the engine lists them, or its error. */
async function chainOf(
  service: EngineClient,
  log: Logger,
): Promise<{ chain: NonNullable<RestoreFacts['chain']> } | { error: string }> {
  try {
    const snaps = await service.snapshotList();
    const head = snaps.find((s) => s.head);
    return {
      chain: {
        headParent: head?.parent ?? '',
        layers: snaps
          .filter((s) => !s.head && !s.removed)
          .map((s) => ({ name: s.name, parent: s.parent, userCreated: s.userCreated })),
      },
    };
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'engine snapshot list unavailable');
    return { error: (err as Error).message };
  }
}
