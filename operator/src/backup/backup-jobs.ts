/**
 * Backups running in this operator process, by Backup CR name: each reads its snapshot from one
 * RW replica over the replica protocol (not through the engine) and writes it to the store with
 * the dataplane's createBackup. A job is cancelled through its AbortSignal (the CR was deleted):
 * the library then removes its in-progress cfg and releases its lock. Jobs live in memory only:
 * after an operator restart the Backup controller finds InProgress CRs without a job and runs
 * them again.
 */

import {
  BackupError,
  type BackupProgress,
  type BackupResult,
  type BackupTarget,
  type CompressionMethod,
  createBackup,
  ReplicaSnapshotSource,
} from '@longhorn-ts/dataplane/backup/index';
import { parseReplicaAddress } from '@longhorn-ts/dataplane/net/replica-address';
import { ReplicaClient } from '@longhorn-ts/dataplane/protocol/index';
import type { Logger } from 'pino';

export interface BackupJobSpec {
  backup: string;
  volume: string;
  snapshot: string;
  replica: { id: string; address: string };
  /** Opens the store; the job closes it. */
  openTarget: () => Promise<BackupTarget>;
  compression: CompressionMethod;
  mode: 'incremental' | 'full';
  concurrency: number;
  labels: Record<string, string>;
  /**
   * More backup.cfg Parameters, asked for when the job runs (an encrypted volume's key record);
   * a failure fails the backup with its message.
   */
  parameters?: () => Promise<Record<string, string>>;
  storageClassName?: string;
  onProgress: (p: BackupProgress) => void;
  /** The job fails when it makes no progress for this long (Setting backup-execution-timeout). */
  progressTimeoutMs?: number;
  log: Logger;
}

interface Job {
  abort: AbortController;
  done: Promise<BackupResult>;
}

export class BackupJobs {
  private readonly jobs = new Map<string, Job>();

  has(backup: string): boolean {
    return this.jobs.has(backup);
  }

  /** Starts the job; the promise settles with its result (a failure is a BackupError). */
  start(spec: BackupJobSpec): Promise<BackupResult> {
    if (this.jobs.has(spec.backup)) throw new Error(`backup ${spec.backup} is already running`);
    const abort = new AbortController();
    const limit = spec.progressTimeoutMs;
    let stalled = false;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      if (limit === undefined) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        stalled = true;
        abort.abort(new BackupError('CANCELLED', 'no progress'));
      }, limit);
      timer.unref();
    };
    arm();
    const onProgress = (p: BackupProgress) => {
      arm();
      spec.onProgress(p);
    };
    // A step that does not watch the signal (a target or replica that does not answer) still
    // ends the job when it is aborted; what it holds is released when that step returns.
    const aborted = new Promise<never>((_, reject) =>
      abort.signal.addEventListener('abort', () => reject(abort.signal.reason), { once: true }),
    );
    aborted.catch(() => undefined);
    const done = Promise.race([run({ ...spec, onProgress }, abort.signal), aborted])
      .catch((err: unknown) => {
        if (!stalled) throw err;
        throw new BackupError(
          'EIO',
          `backup ${spec.backup} of ${spec.volume} made no progress for ${formatLimit(limit ?? 0)} (Setting backup-execution-timeout)`,
          { volume: spec.volume, backup: spec.backup },
          err,
        );
      })
      .finally(() => {
        if (timer) clearTimeout(timer);
        this.jobs.delete(spec.backup);
      });
    this.jobs.set(spec.backup, { abort, done });
    return done;
  }

  /** Cancels a running job and waits until it has cleaned up; false when none ran. */
  async cancel(backup: string, reason: string): Promise<boolean> {
    const job = this.jobs.get(backup);
    if (job === undefined) return false;
    job.abort.abort(new BackupError('CANCELLED', reason));
    await job.done.catch(() => undefined);
    return true;
  }

  /** Cancels every job (the operator stops): their CRs stay InProgress and are retried. */
  async cancelAll(reason: string): Promise<void> {
    await Promise.all([...this.jobs.keys()].map((b) => this.cancel(b, reason)));
  }
}

function formatLimit(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`;
}

async function run(spec: BackupJobSpec, signal: AbortSignal): Promise<BackupResult> {
  const parameters = spec.parameters ? await spec.parameters() : undefined;
  const target = await spec.openTarget();
  try {
    await target.check();
    const client = await ReplicaClient.connect(parseReplicaAddress(spec.replica.address), spec.replica.id, {
      connections: 2,
    });
    try {
      return await createBackup({
        target,
        source: new ReplicaSnapshotSource(client),
        volume: spec.volume,
        snapshot: spec.snapshot,
        backupName: spec.backup,
        compression: spec.compression,
        mode: spec.mode,
        concurrency: spec.concurrency,
        labels: spec.labels,
        ...(parameters ? { parameters } : {}),
        ...(spec.storageClassName ? { storageClassName: spec.storageClassName } : {}),
        signal,
        onProgress: spec.onProgress,
        log: spec.log,
      });
    } finally {
      await client.close().catch(() => undefined);
    }
  } finally {
    await target.close().catch(() => undefined);
  }
}
