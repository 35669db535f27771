import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackup } from '@longhorn-ts/dataplane/backup/create-backup';
import { StoreSnapshotSource } from '@longhorn-ts/dataplane/backup/snapshot-source';
import type { BackupTarget } from '@longhorn-ts/dataplane/backup/target';
import { openTarget } from '@longhorn-ts/dataplane/backup/target-url';
import { isAlive, startDetached, stopProcess } from '@longhorn-ts/dataplane/cli/detached-process';
import { entryCommand } from '@longhorn-ts/dataplane/process/entry-point';
import { ReplicaServerAdmin } from '@longhorn-ts/dataplane/protocol/admin-client';
import { Replica } from '@longhorn-ts/dataplane/replica/index';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runRestoreJob } from '../../src/backup/restore-job.js';

const MiB = 1024 * 1024;
const SIZE = 16 * MiB;
const FAST_LOCKS = { settleMs: 10, refreshMs: 60_000, expiryMs: 150_000 };

let dir = '';
let serverPid = 0;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lh-restore-cancel-'));
});

afterEach(async () => {
  if (serverPid && isAlive(serverPid)) {
    process.kill(serverPid, 'SIGCONT');
    await stopProcess(serverPid, 2_000);
  }
  serverPid = 0;
  await rm(dir, { recursive: true, force: true });
});

/** A real replica server process (the data plane's own entry); its TCP address. */
async function startReplicaServer(): Promise<string> {
  const { command, args } = entryCommand('protocol/replica-server-main');
  const { pid, ready } = await startDetached(
    command,
    [...args, '--listen', '127.0.0.1:0', '--socket', join(dir, 'rs.sock'), '--data-dir', join(dir, 'data')],
    join(dir, 'replica-server.log'),
    { LOG_LEVEL: 'warn' },
  );
  serverPid = pid;
  const { tcp } = ready as { tcp: { host: string; port: number } };
  return `${tcp.host}:${tcp.port}`;
}

describe('a restore job into a replica that stops answering', () => {
  it('is cancelled by its signal: the waiting replica call fails and the job rejects at once', async () => {
    const address = await startReplicaServer();
    const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.split(':').at(-1))];
    const admin = await ReplicaServerAdmin.connect({ host, port });
    await admin.create('r1', { size: SIZE });
    await admin.disconnect();

    // A backup of 8 MiB of data in a directory store.
    await mkdir(join(dir, 'store'));
    const store = openTarget(join(dir, 'store'));
    const source = await Replica.create(join(dir, 'source'), { size: SIZE });
    await source.write(0, randomBytes(8 * MiB));
    await source.snapshot('s1');
    const made = await createBackup({
      target: store,
      source: new StoreSnapshotSource(source),
      volume: 'vol1',
      snapshot: 's1',
      lockTiming: FAST_LOCKS,
    });
    await source.close();

    // The replica server freezes (SIGSTOP) the moment the first block is read from the store:
    // the job's next replica write then waits on a connection nobody answers.
    let frozen = false;
    const target = new Proxy(store, {
      get(t, prop, receiver) {
        const v = Reflect.get(t, prop, receiver);
        if (prop === 'get' && typeof v === 'function')
          return async (path: string) => {
            if (path.endsWith('.blk') && !frozen) {
              frozen = true;
              process.kill(serverPid, 'SIGSTOP');
            }
            return v.call(t, path);
          };
        return typeof v === 'function' ? v.bind(t) : v;
      },
    }) as BackupTarget;

    const abort = new AbortController();
    const job = runRestoreJob({
      target,
      backupVolume: 'vol1',
      backup: made.backup.Name,
      from: '',
      layer: 'restore-x',
      parent: null,
      replicas: [{ id: 'r1', address }],
      revert: async () => {},
      signal: abort.signal,
      log: pino({ level: 'silent' }),
    }).then(
      () => 'completed',
      (err: Error) => `rejected: ${err.message}`,
    );
    // (The restore lock takes its 2 s settle first.)
    for (let i = 0; i < 150 && !frozen; i++) await new Promise((r) => setTimeout(r, 100));
    expect(frozen).toBe(true);
    const stuck = await Promise.race([job, new Promise((r) => setTimeout(() => r('waiting'), 1_500))]);
    expect(stuck).toBe('waiting');

    const t0 = Date.now();
    abort.abort();
    const outcome = await Promise.race([
      job,
      new Promise((r) => setTimeout(() => r('still waiting'), 10_000)),
    ]);
    expect(outcome).toMatch(/^rejected: /);
    expect(Date.now() - t0).toBeLessThan(5_000);
    await store.close();
  }, 60_000);
});
