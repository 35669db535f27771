import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Engine, Volume, VolumeAttachment } from '@longhorn-ts/api';
import { encodeBackupUrl } from '@longhorn-ts/dataplane/backup/backup-url';
import { createBackup } from '@longhorn-ts/dataplane/backup/create-backup';
import { StoreSnapshotSource } from '@longhorn-ts/dataplane/backup/snapshot-source';
import type { BackupTarget } from '@longhorn-ts/dataplane/backup/target';
import { openTarget } from '@longhorn-ts/dataplane/backup/target-url';
import { isAlive, startDetached, stopProcess } from '@longhorn-ts/dataplane/cli/detached-process';
import { entryCommand } from '@longhorn-ts/dataplane/process/entry-point';
import { ReplicaServerAdmin } from '@longhorn-ts/dataplane/protocol/admin-client';
import { ReplicaClient } from '@longhorn-ts/dataplane/protocol/client';
import { Replica } from '@longhorn-ts/dataplane/replica/index';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Condition, getCondition } from '../../src/conditions.js';
import type { ControllerContext } from '../../src/controllers/context.js';
import type { EngineController } from '../../src/controllers/engine-controller.js';
import { RESTORE_STALL_MS, RestoreController } from '../../src/controllers/restore-controller.js';
import { KINDS } from '../../src/k8s/kinds.js';
import { ManualClock } from '../../src/runtime/clock.js';
import { RETRY_BASE_MS, restoreLayerName, restoreTicketId } from '../../src/volume/volume-restore.js';
import { testNodeId } from './test-node-id.js';

/*
 * The restore stall watchdog, end to end through RestoreController.reconcile: a real restore
 * job writes a real backup (directory store) into real replica servers (one process each).
 * r1's is frozen with SIGSTOP mid-restore, so the job's next replica write waits on a
 * connection nobody answers; the controller's clock (a ManualClock) is moved past
 * RESTORE_STALL_MS instead of waiting ten minutes.
 */

const NS = 'longhorn-system';
const VOLUME = 'restored';
const KEY = `${NS}/${VOLUME}`;
const MiB = 1024 * 1024;
const SIZE = 16 * MiB;
const LOCKS = { settleMs: 10, refreshMs: 60_000, expiryMs: 150_000 };
/** Blocks restored before the first replica server is frozen. */
const BLOCKS_BEFORE_FREEZE = 3;
/** How long the stand-in engine waits for its replica before its call fails (its gRPC deadline). */
const ENGINE_DEADLINE_MS = 300;
const STALLED = 'restore stalled: cancelled, to be tried again';

let dir = '';
const serverPids: number[] = [];
/** Undone in reverse order after each test, whatever happened in it. */
const cleanups: Array<() => Promise<void>> = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lh-restore-stall-'));
});

afterEach(async () => {
  for (const undo of cleanups.splice(0).reverse()) await undo().catch(() => {});
  for (const pid of serverPids.splice(0)) {
    // A frozen process cannot take its SIGTERM: resume it first.
    if (isAlive(pid)) process.kill(pid, 'SIGCONT');
    await stopProcess(pid, 2_000);
  }
  await rm(dir, { recursive: true, force: true });
});

/** Probes until `probe` holds, or throws once `timeoutMs` has passed. */
async function waitFor(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(20);
  }
}

/** `p`, or the error an engine call gives when its replica does not answer in time. */
async function withinDeadline<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: deadline exceeded`)), ENGINE_DEADLINE_MS);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** A replica server process (the data plane's own entry) hosting one empty replica `id`. */
async function startReplicaServer(id: string) {
  const { command, args } = entryCommand('protocol/replica-server-main');
  const { pid, ready } = await startDetached(
    command,
    [...args, '--listen', '127.0.0.1:0', '--data-dir', join(dir, `data-${id}`)],
    join(dir, `replica-server-${id}.log`),
    { LOG_LEVEL: 'warn' },
  );
  serverPids.push(pid);
  const { tcp } = ready as { tcp: { host: string; port: number } };
  const admin = await ReplicaServerAdmin.connect(tcp);
  cleanups.push(() => admin.disconnect());
  await admin.create(id, { size: SIZE });
  const client = await ReplicaClient.connect(tcp, id, { connections: 1 });
  cleanups.push(() => client.close());
  return { id, pid, address: `${tcp.host}:${tcp.port}`, admin, client };
}

/** A backup of SIZE bytes of random data in a directory store: its name, block count, data. */
async function makeBackup(storeDir: string) {
  await mkdir(storeDir);
  const store = openTarget(storeDir);
  const source = await Replica.create(join(dir, 'source'), { size: SIZE });
  const data = randomBytes(SIZE);
  try {
    await source.write(0, data);
    await source.snapshot('s1');
    const made = await createBackup({
      target: store,
      source: new StoreSnapshotSource(source),
      volume: 'src',
      snapshot: 's1',
      lockTiming: LOCKS,
    });
    return { backup: made.backup.Name, blocks: made.backup.Blocks.length, data };
  } finally {
    await source.close();
    await store.close();
  }
}

/**
 * A plain restore of a fresh volume of `replicas` replicas (r1, r2), attached on this node with
 * its restore ticket, driven by a RestoreController whose writes land in the objects its caches
 * serve. `freezeFirstServer`: r1's server gets SIGSTOP when the job starts downloading the
 * block after BLOCKS_BEFORE_FREEZE (one block in flight at a time, so that is exact).
 */
async function restoreFixture(opts: { replicas: 1 | 2; freezeFirstServer: boolean }) {
  const servers = [await startReplicaServer('r1')];
  if (opts.replicas === 2) servers.push(await startReplicaServer('r2'));
  const rs1 = servers[0]!;
  const storeDir = join(dir, 'store');
  const made = await makeBackup(storeDir);

  let volume: Volume | undefined = {
    apiVersion: 'longhorn.io/v1beta2',
    kind: 'Volume',
    metadata: { name: VOLUME, namespace: NS, resourceVersion: '1' },
    spec: {
      size: String(SIZE),
      fromBackup: encodeBackupUrl(storeDir, 'src', made.backup),
      numberOfReplicas: opts.replicas,
    },
    status: {
      ownerID: 'n1',
      state: 'attached',
      currentNodeID: 'n1',
      restoreRequired: true,
      restoreInitiated: true,
      isStandby: false,
      lastBackup: made.backup,
    },
  } as Volume;
  const ticketId = restoreTicketId(VOLUME);
  const va = {
    metadata: { name: VOLUME, namespace: NS },
    spec: {
      volume: VOLUME,
      attachmentTickets: { [ticketId]: { id: ticketId, nodeID: 'n1', type: 'volume-restore-controller' } },
    },
  } as unknown as VolumeAttachment;
  let engine = {
    metadata: { name: `${VOLUME}-e-0`, namespace: NS, resourceVersion: '1' },
    spec: {
      volumeName: VOLUME,
      nodeID: 'n1',
      replicaAddressMap: Object.fromEntries(servers.map((s) => [s.id, s.address])),
    },
    status: {
      currentState: 'running',
      port: 1,
      replicaModeMap: Object.fromEntries(servers.map((s) => [s.id, 'RW'])),
    },
  } as unknown as Engine;

  const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
  /** The controller's log lines, parsed. */
  const logs: Array<Record<string, unknown> & { msg: string }> = [];
  /** Keys the controller queued for itself (a restore job queues one when it ends). */
  const queued: string[] = [];
  const ctx = {
    id: testNodeId(dir, NS),
    caches: {
      volumes: { get: () => volume, list: () => (volume ? [volume] : []) },
      volumeAttachments: { get: () => va, list: () => [va] },
      engines: { get: () => engine, list: () => [engine] },
    },
    client: {
      // What the API server and the informer would do: merge the status, bump the version.
      patchStatus: async (kind: unknown, obj: Volume | Engine, fields: object) => {
        const metadata = {
          ...obj.metadata,
          resourceVersion: String(Number(obj.metadata.resourceVersion) + 1),
        };
        if (kind === KINDS.volume && volume)
          volume = { ...volume, metadata, status: { ...volume.status, ...fields } } as Volume;
        else if (kind === KINDS.engine)
          engine = { ...engine, metadata, status: { ...engine.status, ...fields } };
        else throw new Error(`unexpected status write to ${String(kind)}`);
      },
      patch: async () => {},
    },
    events: { record: () => {} },
    settings: {
      get: (name: string) => (name === 'concurrent-volume-backup-restore-per-node-limit' ? 5 : 1),
    },
    dispatcher: { watch: () => {}, add: (_controller: string, key: string) => void queued.push(key) },
    clock,
    log: pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) }),
  } as unknown as ControllerContext;

  // The engine lists the chain from one replica (r2 when there is one: r1 is the one that
  // freezes), failing when it does not answer in time, and reverts on all, as engine.ts does.
  const reader = servers.at(-1)!;
  const service = {
    snapshotList: async () => {
      const chain = await withinDeadline(reader.client.chain(), `engine: replica ${reader.id}`);
      const head = chain.at(-1)?.name;
      return chain.map((l) => ({ ...l, parent: l.parent ?? '', head: l.name === head }));
    },
    snapshotRevert: async (layer: string) => {
      await Promise.all(servers.map((s) => s.client.revert(layer)));
    },
  };
  const engines = { service: async () => service } as unknown as EngineController;

  let blockReads = 0;
  let armed = opts.freezeFirstServer;
  let frozen = false;
  const freezeOnRead = (store: BackupTarget): BackupTarget =>
    new Proxy(store, {
      get(t, prop, receiver) {
        const v = Reflect.get(t, prop, receiver);
        if (prop === 'get' && typeof v === 'function')
          return async (path: string) => {
            if (armed && path.endsWith('.blk') && ++blockReads > BLOCKS_BEFORE_FREEZE) {
              process.kill(rs1.pid, 'SIGSTOP');
              armed = false;
              frozen = true;
            }
            return v.call(t, path);
          };
        return typeof v === 'function' ? v.bind(t) : v;
      },
    });
  const targets = {
    open: async () => ({ name: 'default', target: freezeOnRead(openTarget(storeDir)), pollMs: 60_000 }),
  };
  const controller = new RestoreController(ctx, engines, targets);
  // A job still running when a test fails is cancelled (the volume is gone: the controller forgets it).
  cleanups.push(async () => {
    volume = undefined;
    await controller.reconcile(KEY);
  });

  return {
    made,
    servers,
    clock,
    logs,
    queued,
    reconcile: () => controller.reconcile(KEY),
    volume: () => volume!,
    engine: () => engine,
    restoreCondition: () => getCondition(volume?.status?.conditions as Condition[] | undefined, 'Restore'),
    logged: (msg: string) => logs.filter((l) => l.msg === msg),
    isFrozen: () => frozen,
    resume: () => {
      process.kill(rs1.pid, 'SIGCONT');
      frozen = false;
    },
  };
}

type Fixture = Awaited<ReturnType<typeof restoreFixture>>;

/** The percent in a Restore condition `restoring backup B: N%`, or -1. */
function percentOf(f: Fixture): number {
  const m = /: (\d+)%$/.exec(f.restoreCondition()?.message ?? '');
  return m ? Number(m[1]) : -1;
}

/** Lets the restore job that runs now end, then reconciles on the key it queued. */
async function afterJobEnds(f: Fixture, timeoutMs = 10_000): Promise<void> {
  const before = f.queued.length;
  await waitFor('the restore job to end', () => f.queued.length > before, timeoutMs);
  expect(f.queued.at(-1)).toBe(KEY);
  await f.reconcile();
}

/** The Engine's restoreStatus shows, for every replica, the failed attempt (not a restore in progress). */
function expectEngineFailed(f: Fixture, error: string, percent: number): void {
  const failed = expect.objectContaining({
    isRestoring: false,
    currentRestoringBackup: '',
    state: 'error',
    error,
    progress: percent,
    backupURL: f.volume().spec.fromBackup,
  });
  expect(f.engine().status?.restoreStatus).toEqual(
    Object.fromEntries(f.servers.map((s) => [s.address, failed])),
  );
}

/** Reads the replica's volume (its head) back in 4 MiB pieces. */
async function readAll(client: ReplicaClient): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let off = 0; off < SIZE; off += 4 * MiB) pieces.push(Buffer.from(await client.read(off, 4 * MiB)));
  return Buffer.concat(pieces);
}

/** The restore completed: status, condition, and the backup's data on every replica. */
async function expectRestored(f: Fixture): Promise<void> {
  const s = f.volume().status!;
  expect(s.restoreRequired).toBe(false);
  expect(f.restoreCondition()).toMatchObject({
    status: 'False',
    reason: '',
    message: `restored from backup ${f.made.backup}`,
  });
  for (const { client } of f.servers) {
    expect((await client.chain()).at(-1)?.parent).toBe(restoreLayerName(f.made.backup));
    expect((await readAll(client)).equals(f.made.data)).toBe(true);
  }
}

describe('RestoreController: the restore stall watchdog', () => {
  it('cancels a restore whose replica froze once no percent moved for 600 s, and tries it again', async () => {
    const f = await restoreFixture({ replicas: 2, freezeFirstServer: true });
    const { backup, blocks } = f.made;
    const stalledAt = Math.floor((BLOCKS_BEFORE_FREEZE * 100) / blocks);

    await f.reconcile();
    expect(f.logged('restore started')).toHaveLength(1);
    expect(f.restoreCondition()?.message).toBe(`restoring backup ${backup}: 0%`);
    // (The job takes the backup volume's restore lock first: about 2 s.)
    await waitFor('r1 to freeze mid-restore', f.isFrozen);

    // Before the clock moves: the job runs at the percent it reached, in the volume and the engine.
    await f.reconcile();
    expect(f.restoreCondition()).toMatchObject({
      status: 'True',
      reason: 'RestoreInProgress',
      message: `restoring backup ${backup}: ${stalledAt}%`,
    });
    expect(Object.values(f.engine().status?.restoreStatus ?? {})).toEqual([
      expect.objectContaining({ isRestoring: true, progress: stalledAt, state: 'in_progress' }),
      expect.objectContaining({ isRestoring: true, progress: stalledAt, state: 'in_progress' }),
    ]);

    // 600 s without progress is still within the limit; a millisecond more is not.
    f.clock.advance(RESTORE_STALL_MS);
    await f.reconcile();
    expect(f.logged(STALLED)).toHaveLength(0);
    expect(f.queued).toEqual([]);
    f.clock.advance(1);
    await f.reconcile();
    expect(f.logged(STALLED)).toEqual([expect.objectContaining({ backup, percent: stalledAt })]);

    // The cancel ends the job although r1 still does not answer (it stays frozen meanwhile).
    const failure = `no progress for 600 s at ${stalledAt}% (cancelled)`;
    await afterJobEnds(f, 5_000);
    expect(f.isFrozen()).toBe(true);
    expect(f.logged('restore job failed')).toEqual([
      expect.objectContaining({ err: failure, permanent: false, backup }),
    ]);
    // Not permanent: no RestoreFailure; the volume waits for the next attempt and says why.
    expect(f.restoreCondition()).toMatchObject({
      status: 'True',
      reason: 'RestoreInProgress',
      message: `restoring backup ${backup}: waiting for the next attempt (${failure})`,
    });
    expect(f.volume().status?.restoreRequired).toBe(true);
    // The Engine shows the attempt failed, on every replica, not still restoring at the last percent.
    expectEngineFailed(f, failure, stalledAt);

    // The first retry comes RETRY_BASE_MS after the failure (the back-off of attempt 1), not before.
    f.resume();
    f.clock.advance(RETRY_BASE_MS - 1);
    await f.reconcile();
    expect(f.logged('restore started')).toHaveLength(1);
    expectEngineFailed(f, failure, stalledAt);
    f.clock.advance(1);
    await f.reconcile();
    expect(f.logged('restore started')).toHaveLength(2);
    expect(f.restoreCondition()?.message).toBe(`restoring backup ${backup}: 0%`);
    // The new attempt shows in the Engine as soon as it starts, the failure gone.
    expect(Object.values(f.engine().status?.restoreStatus ?? {})).toEqual([
      expect.objectContaining({
        isRestoring: true,
        currentRestoringBackup: backup,
        state: 'in_progress',
        error: '',
      }),
      expect.objectContaining({
        isRestoring: true,
        currentRestoringBackup: backup,
        state: 'in_progress',
        error: '',
      }),
    ]);

    // With r1 answering again the second attempt completes (it drops the stage the first left).
    await afterJobEnds(f);
    await expectRestored(f);
    expect(f.logged('restore job failed')).toHaveLength(1);
  }, 30_000);

  it('does not cancel a slow restore that keeps making progress while the clock moves past the limit', async () => {
    const f = await restoreFixture({ replicas: 2, freezeFirstServer: false });
    const { backup } = f.made;
    // r1's server takes layer writes at 4 MiB/s: a 2 MiB block every half second.
    await f.servers[0]!.admin.bulkBandwidth(4 * MiB);

    await f.reconcile();
    expect(f.restoreCondition()?.message).toBe(`restoring backup ${backup}: 0%`);
    // Two moves of 400 s: 800 s after the start, more than RESTORE_STALL_MS, but each one
    // followed by progress the controller sees (a percent that moved after the clock did).
    for (const step of [400_000, 400_000]) {
      f.clock.advance(step);
      await f.reconcile();
      expect(f.logged(STALLED)).toHaveLength(0);
      const seen = percentOf(f);
      await waitFor('the restore to make progress', async () => {
        await f.reconcile();
        return percentOf(f) > seen;
      });
      expect(f.restoreCondition()?.reason).toBe('RestoreInProgress');
    }
    expect(percentOf(f)).toBeLessThan(100);

    await f.servers[0]!.admin.bulkBandwidth(0);
    await afterJobEnds(f);
    await expectRestored(f);
    expect(f.logged('restore started')).toHaveLength(1);
    expect(f.logged('restore job failed')).toHaveLength(0);
    expect(f.logged(STALLED)).toHaveLength(0);
  }, 30_000);

  it('cancels a stalled restore also while the engine cannot list the chain (its only replica froze)', async () => {
    const f = await restoreFixture({ replicas: 1, freezeFirstServer: true });
    const { backup, blocks } = f.made;
    const stalledAt = Math.floor((BLOCKS_BEFORE_FREEZE * 100) / blocks);

    await f.reconcile();
    await waitFor('r1 to freeze mid-restore', f.isFrozen);
    // The engine reads the chain from the frozen replica: the restore cannot tell where it is.
    await f.reconcile();
    // It is attached: what it waits for is its engine (whose replica does not answer).
    expect(f.restoreCondition()?.message).toBe(
      `restoring backup ${backup}: waiting for the engine of volume ${VOLUME} to answer (engine: replica r1: deadline exceeded)`,
    );

    f.clock.advance(RESTORE_STALL_MS + 1);
    await f.reconcile();
    expect(f.logged(STALLED)).toEqual([expect.objectContaining({ backup, percent: stalledAt })]);
    const failure = `no progress for 600 s at ${stalledAt}% (cancelled)`;
    await afterJobEnds(f, 5_000);
    expect(f.logged('restore job failed')).toEqual([
      expect.objectContaining({ err: failure, permanent: false, backup }),
    ]);
    // Reported to the Engine also while the volume waits for that engine, not in a job's step.
    expect(f.restoreCondition()?.message).toMatch(/waiting for the engine of volume/);
    expectEngineFailed(f, failure, stalledAt);

    // Once the replica answers again, the volume waits for the next attempt and says why.
    f.resume();
    await f.reconcile();
    expect(f.restoreCondition()).toMatchObject({
      status: 'True',
      reason: 'RestoreInProgress',
      message: `restoring backup ${backup}: waiting for the next attempt (${failure})`,
    });
  }, 30_000);
});
