import { type BackupTarget, isBackupError } from '@longhorn-ts/dataplane/backup/index';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { type BackupJobSpec, BackupJobs } from '../../src/backup/backup-jobs.js';

/** A target whose first request does not answer for a long while (a stalled store). */
function stalledTarget(): BackupTarget {
  const never = () => new Promise<never>(() => undefined);
  return {
    kind: 's3',
    url: 's3://b@r/',
    requests: { list: 0, get: 0, put: 0, head: 0, delete: 0, copy: 0 },
    check: never,
    get: never,
    put: never,
    exists: never,
    modified: never,
    list: never,
    listAll: never,
    copy: never,
    remove: never,
    close: async () => undefined,
  };
}

function spec(over: Partial<BackupJobSpec> = {}): BackupJobSpec {
  return {
    backup: 'backup-1',
    volume: 'vol-1',
    snapshot: 'snap-1',
    replica: { id: 'r1', address: '127.0.0.1:1' },
    openTarget: async () => stalledTarget(),
    compression: 'lz4',
    mode: 'incremental',
    concurrency: 1,
    labels: {},
    onProgress: () => undefined,
    log: pino({ level: 'silent' }),
    ...over,
  };
}

describe('BackupJobs', () => {
  it('fails a job that makes no progress within the timeout, saying so', async () => {
    const jobs = new BackupJobs();
    const err = await jobs.start(spec({ progressTimeoutMs: 50 })).catch((e: unknown) => e);
    expect(isBackupError(err, 'EIO')).toBe(true);
    expect((err as Error).message).toBe(
      'backup backup-1 of vol-1 made no progress for 0.05 s (Setting backup-execution-timeout)',
    );
    expect(jobs.has('backup-1')).toBe(false);
  });

  it('cancels a running job: it ends CANCELLED and is forgotten; a second start is refused while it runs', async () => {
    const jobs = new BackupJobs();
    const done = jobs.start(spec());
    expect(jobs.has('backup-1')).toBe(true);
    expect(() => jobs.start(spec())).toThrow('backup backup-1 is already running');
    expect(await jobs.cancel('backup-1', 'the Backup was deleted')).toBe(true);
    const err = await done.catch((e: unknown) => e);
    expect(isBackupError(err, 'CANCELLED')).toBe(true);
    expect((err as Error).message).toBe('the Backup was deleted');
    expect(jobs.has('backup-1')).toBe(false);
    expect(await jobs.cancel('backup-1', 'again')).toBe(false);
  });
});
