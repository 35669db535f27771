import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Engine, isTicketSatisfied, NAMESPACE, type Volume } from '@longhorn-ts/api';
import { encodeBackupUrl } from '@longhorn-ts/dataplane/backup/backup-url';
import { createBackup } from '@longhorn-ts/dataplane/backup/create-backup';
import { blockPath } from '@longhorn-ts/dataplane/backup/layout';
import { StoreSnapshotSource } from '@longhorn-ts/dataplane/backup/snapshot-source';
import type { BackupTarget } from '@longhorn-ts/dataplane/backup/target';
import { openTarget } from '@longhorn-ts/dataplane/backup/target-url';
import { parseReplicaAddress } from '@longhorn-ts/dataplane/net/replica-address';
import { ReplicaClient } from '@longhorn-ts/dataplane/protocol/client';
import { Replica } from '@longhorn-ts/dataplane/replica/index';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { Cluster, stopAbandonedClusters } from '../src/harness/cluster.js';
import type { KubeObject } from '../src/harness/kubectl.js';
import {
  applyYaml,
  attachByTicket,
  condition,
  enginesOf,
  getAttachment,
  getVolume,
  LH,
  removeTicket,
  volumeYaml,
  waitForEndpoint,
  waitForVolume,
} from '../src/harness/longhorn-volumes.js';
import { waitFor } from '../src/harness/wait.js';

const skip = process.env.LONGHORN_TS_SKIP_K8S === '1';
// Node 20 on purpose (DESIGN.md): no S3 SDK notice about Node 22 in the test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const exec = promisify(execFile);
const MiB = 1 << 20;
const SIZE = 32 * MiB;
/** Backups are made in this process with the backupstore library; a quick lock settle. */
const LOCKS = { settleMs: 50, refreshMs: 60_000, expiryMs: 150_000 };

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe.skipIf(skip)('restore from a backup and standby (DR) volumes, against the cluster’s MinIO', () => {
  let dir: string;
  let cluster: Cluster;
  let targetUrl = '';
  let store: BackupTarget;
  let source: Replica;
  /** What the source volume holds now (every write goes here and to the source replica). */
  const expected = Buffer.alloc(SIZE);
  const backups: string[] = [];

  beforeAll(async () => {
    await stopAbandonedClusters(tmpdir(), 'lh-e2e-restore-');
    dir = await mkdtemp(join(tmpdir(), 'lh-e2e-restore-'));
    cluster = await Cluster.start({
      dir: join(dir, 'cluster'),
      nodes: 2,
      longhorn: true,
      timeoutMs: 150_000,
    });
    // The cluster's store is the default BackupTarget (made from the Settings); a standby volume
    // follows its backups at the target's poll interval: 2 s here.
    const bs = cluster.backupstore;
    targetUrl = bs.targetUrl;
    store = openTarget(bs.targetUrl, bs.credentials);
    await waitFor(
      'the default BackupTarget',
      () => cluster.kubectl.tryGet('backuptargets.longhorn.io', 'default', NAMESPACE),
      { timeoutMs: 60_000 },
    );
    await cluster.kubectl.run([
      'patch',
      'backuptargets.longhorn.io',
      'default',
      '-n',
      NAMESPACE,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { pollInterval: '2s' } }),
    ]);
    await mkdir(join(dir, 'source'));
    source = await Replica.create(join(dir, 'source', 'r'), { size: SIZE });
  }, 240_000);

  afterAll(async () => {
    await source?.close();
    await store?.close();
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function dumpLogsOnFailure(): void {
    onTestFailed(async () => {
      process.stderr.write(`${await cluster.logTails(60)}\n`);
    });
  }
  const kubectl = () => cluster.kubectl;

  async function write(offset: number, data: Buffer): Promise<void> {
    await source.write(offset, data);
    data.copy(expected, offset);
  }

  /** A backup of the source volume 'src' as it is now; its name. */
  async function backup(volume = 'src', replica = source): Promise<string> {
    const snapshot = `s-${Date.now().toString(36)}`;
    await replica.snapshot(snapshot);
    const res = await createBackup({
      target: store,
      source: new StoreSnapshotSource(replica),
      volume,
      snapshot,
      lockTiming: LOCKS,
    });
    if (volume === 'src') backups.push(res.backup.Name);
    return res.backup.Name;
  }

  const urlOf = (backupName: string, volume = 'src') => encodeBackupUrl(targetUrl, volume, backupName);

  async function eventsOf(
    name: string,
  ): Promise<Array<{ type?: string; reason?: string; message?: string }>> {
    const events = await kubectl().list<
      KubeObject & { type?: string; reason?: string; message?: string; involvedObject?: { name?: string } }
    >('events', NAMESPACE);
    return events.filter((e) => e.involvedObject?.name === name);
  }

  /** The whole volume through its engine's NBD endpoint. */
  async function readThroughNbd(uri: string): Promise<Buffer> {
    const out = join(dir, `read-${Date.now()}.bin`);
    await exec('nbdcopy', [uri, out], { timeout: 120_000 });
    try {
      return await readFile(out);
    } finally {
      await rm(out, { force: true });
    }
  }

  /** Each replica's view (a standby volume has no frontend): the sha256 of every one. */
  async function replicaHashes(volume: string): Promise<string[]> {
    const engine = (await enginesOf(kubectl(), volume)).find(
      (e: Engine) => e.status?.currentState === 'running',
    );
    const addresses = engine?.status?.currentReplicaAddressMap ?? {};
    const hashes: string[] = [];
    for (const [id, address] of Object.entries(addresses)) {
      const client = await ReplicaClient.connect(parseReplicaAddress(address), id, { connections: 1 });
      try {
        const h = createHash('sha256');
        for (let off = 0; off < SIZE; off += 2 * MiB) h.update(await client.read(off, 2 * MiB));
        hashes.push(h.digest('hex'));
      } finally {
        await client.close();
      }
    }
    return hashes;
  }

  async function attachAndRead(volume: string, node: string): Promise<Buffer> {
    const ticket = await attachByTicket(kubectl(), volume, node);
    try {
      const uri = await waitForEndpoint(kubectl(), volume, 120_000);
      return await readThroughNbd(uri);
    } finally {
      await removeTicket(kubectl(), volume, ticket);
    }
  }

  it('a Volume with fromBackup (bigger than the backup) is held until the restore completed, then reads byte-identical', async () => {
    dumpLogsOnFailure();
    await write(0, randomBytes(12 * MiB));
    await write(20 * MiB, randomBytes(2 * MiB));
    const b1 = await backup();
    const t0 = Date.now();
    // Bigger than the backup volume: fine (the rest reads as zeros).
    await applyYaml(
      kubectl(),
      volumeYaml('rst-1', {
        size: String(SIZE + 16 * MiB),
        numberOfReplicas: 2,
        extra: { fromBackup: urlOf(b1) },
      }),
    );
    // Without a size: the restore gives it the backup volume's.
    await applyYaml(
      kubectl(),
      volumeYaml('rst-unsized', { size: '0', numberOfReplicas: 1, extra: { fromBackup: urlOf(b1) } }),
    );
    // A workload's ticket filed at once must wait for the restore.
    const ticket = await attachByTicket(kubectl(), 'rst-1', 'node-1');
    // Until the restore completed the workload's ticket is not served (progress noted meanwhile).
    const progress = new Set<string>();
    let servedWhileRestoring = false;
    const done = await waitFor(
      'rst-1 to be restored',
      async () => {
        const v = await getVolume(kubectl(), 'rst-1');
        const va = await getAttachment(kubectl(), 'rst-1');
        if (v?.status?.restoreRequired !== false) {
          const m = condition(v, 'Restore')?.message;
          if (m) progress.add(m);
          if (va && isTicketSatisfied(va, ticket)) servedWhileRestoring = true;
          return undefined;
        }
        return v;
      },
      { timeoutMs: 180_000, maxIntervalMs: 200 },
    );
    expect(servedWhileRestoring).toBe(false);
    const restoreMs = Date.now() - t0;
    expect(condition(done, 'Restore')).toMatchObject({
      status: 'False',
      message: `restored from backup ${b1}`,
    });
    expect(done.status?.lastBackup).toBe(b1);
    // Longhorn's Engine fields: the backup restored, per replica address its restore status.
    const engine = await waitFor('the engine to report the restored backup', async () =>
      (await enginesOf(kubectl(), 'rst-1')).find((e) => e.status?.lastRestoredBackup === b1),
    );
    expect(Object.values(engine.status?.restoreStatus ?? {})).toHaveLength(2);
    for (const rs of Object.values(engine.status?.restoreStatus ?? {}))
      expect(rs).toMatchObject({ isRestoring: false, lastRestored: b1, progress: 100, state: 'complete' });
    const uri = await waitForEndpoint(kubectl(), 'rst-1', 120_000);
    const va = await getAttachment(kubectl(), 'rst-1');
    expect(isTicketSatisfied(va!, ticket)).toBe(true);
    expect(Object.keys(va?.spec.attachmentTickets ?? {})).toEqual([ticket]);
    const data = await readThroughNbd(uri);
    expect(data.length).toBe(SIZE + 16 * MiB);
    expect(sha256(data.subarray(0, SIZE))).toBe(sha256(expected));
    expect(data.subarray(SIZE).equals(Buffer.alloc(16 * MiB))).toBe(true);
    const reasons = (await eventsOf('rst-1')).map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['RestoreInitiated', 'RestoreCompleted']));
    await removeTicket(kubectl(), 'rst-1', ticket);
    const unsized = await waitForVolume(
      kubectl(),
      'rst-unsized',
      'restored',
      (v) => v.status?.restoreInitiated === true && v.status.restoreRequired === false,
      120_000,
    );
    expect(unsized.spec.size).toBe(String(SIZE));
    process.stdout.write(
      `[restore.test] 14 MiB of a 32 MiB backup restored into 2 replicas in ${(restoreMs / 1000).toFixed(1)} s; progress seen: ${[...progress].join(' | ')}\n`,
    );
  }, 300_000);

  it('a standby volume follows two incremental backups, then activation restores the newest and it attaches', async () => {
    dumpLogsOnFailure();
    const b1 = backups.at(-1)!;
    await applyYaml(
      kubectl(),
      volumeYaml('dr-1', {
        size: String(SIZE),
        numberOfReplicas: 2,
        extra: { fromBackup: urlOf(b1), Standby: true },
      }),
    );
    const standbyAt = async (b: string) => {
      const v = await waitForVolume(
        kubectl(),
        'dr-1',
        `standby at ${b}`,
        (x) =>
          x.status?.isStandby === true &&
          x.status.lastBackup === b &&
          /standby: restored backup/.test(condition(x, 'Restore')?.message ?? '') &&
          (condition(x, 'Restore')?.message ?? '').includes(b),
        120_000,
      );
      const hashes = await replicaHashes('dr-1');
      expect(hashes).toHaveLength(2);
      expect(hashes).toEqual([sha256(expected), sha256(expected)]);
      return v;
    };
    await standbyAt(b1);

    // Backup 2: a changed block and a block zeroed (gone from the backup: zeroed by the restore).
    await write(4 * MiB, randomBytes(2 * MiB));
    await write(20 * MiB, Buffer.alloc(2 * MiB));
    const b2 = await backup();
    const t2 = Date.now();
    await standbyAt(b2);
    const followMs = Date.now() - t2;
    // The older restore layer was folded into the newer one: one layer under the head.
    await waitFor(
      'one restore layer on the standby volume',
      async () => {
        const e = (await enginesOf(kubectl(), 'dr-1')).find((x) => x.status?.currentState === 'running');
        const names = Object.values(e?.status?.snapshots ?? {})
          .filter((x) => !x.removed && (x.name ?? '').startsWith('restore-'))
          .map((x) => x.name);
        return names.length === 1 && names[0] === `restore-${b2}` ? names : undefined;
      },
      { timeoutMs: 60_000 },
    );

    // Backup 3, then activation at once: the activation itself restores the newest backup.
    await write(28 * MiB, randomBytes(2 * MiB));
    const b3 = await backup();
    await kubectl().run([
      'patch',
      LH.volumes,
      'dr-1',
      '-n',
      NAMESPACE,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { Standby: false } }),
    ]);
    const active = await waitForVolume(
      kubectl(),
      'dr-1',
      'activated',
      (v) => v.status?.isStandby === false && v.status.restoreRequired === false,
      120_000,
    );
    expect(active.status?.lastBackup).toBe(b3);
    const data = await attachAndRead('dr-1', 'node-2');
    expect(sha256(data)).toBe(sha256(expected));
    process.stdout.write(
      `[restore.test] standby volume caught up with backup 2 ${(followMs / 1000).toFixed(1)} s after it was taken (poll 2 s)\n`,
    );
  }, 400_000);

  it('a missing backup or a corrupt block fails the restore with the library’s message; the volume never attaches', async () => {
    dumpLogsOnFailure();
    await applyYaml(
      kubectl(),
      volumeYaml('rst-missing', {
        size: String(SIZE),
        numberOfReplicas: 1,
        extra: { fromBackup: urlOf('backup-0000000000000000') },
      }),
    );
    const ticket = await attachByTicket(kubectl(), 'rst-missing', 'node-1');
    const missing = await waitForVolume(
      kubectl(),
      'rst-missing',
      'failed',
      (v) => condition(v, 'Restore')?.reason === 'RestoreFailure',
      60_000,
    );
    expect(condition(missing, 'Restore')?.message).toBe(
      'backup backup-0000000000000000 of volume src not found',
    );

    // Smaller than the backup volume: refused before anything is written.
    await applyYaml(
      kubectl(),
      volumeYaml('rst-small', {
        size: String(16 * MiB),
        numberOfReplicas: 1,
        extra: { fromBackup: urlOf(backups[0]!) },
      }),
    );
    const small = await waitForVolume(
      kubectl(),
      'rst-small',
      'refused',
      (v) => condition(v, 'Restore')?.reason === 'RestoreFailure',
      60_000,
    );
    expect(condition(small, 'Restore')?.message).toBe(
      `spec.size 16777216 is smaller than the backup's volume size ${SIZE}: a restored volume must hold the whole backup`,
    );
    expect(small.status?.restoreInitiated).not.toBe(true);

    // A block of another backup volume garbled in the store: found while restoring.
    const other = await Replica.create(join(dir, 'source', 'other'), { size: SIZE });
    try {
      const block = randomBytes(2 * MiB);
      await other.write(6 * MiB, block);
      const bad = await backup('other', other);
      const checksum = createHash('sha512').update(block).digest('hex').slice(0, 64);
      await store.put(blockPath('other', checksum), randomBytes(4096));
      await applyYaml(
        kubectl(),
        volumeYaml('rst-corrupt', {
          size: String(SIZE),
          numberOfReplicas: 2,
          extra: { fromBackup: urlOf(bad, 'other') },
        }),
      );
    } finally {
      await other.close();
    }
    const corrupt = await waitForVolume(
      kubectl(),
      'rst-corrupt',
      'failed',
      (v) => condition(v, 'Restore')?.reason === 'RestoreFailure',
      120_000,
    );
    const message = condition(corrupt, 'Restore')?.message ?? '';
    expect(message).toMatch(/restore of backup backup-\w+ failed: .*block/i);
    // Nothing half-restored: no restore layer was committed, the volume is let go (detached).
    const released = await waitForVolume(
      kubectl(),
      'rst-corrupt',
      'detached',
      (v) => v.status?.state === 'detached',
      60_000,
    );
    expect(released.status?.restoreRequired).toBe(true);
    const warnings = (await eventsOf('rst-corrupt')).filter((e) => e.reason === 'RestoreFailed');
    expect(warnings.map((e) => e.message)).toContain(message);

    // The missing one never served its workload's ticket.
    const va = await getAttachment(kubectl(), 'rst-missing');
    expect(isTicketSatisfied(va!, ticket)).toBe(false);
    const v = (await getVolume(kubectl(), 'rst-missing')) as Volume;
    expect(v.status?.state).toBe('detached');
    process.stdout.write(
      `[restore.test] failures: "${condition(missing, 'Restore')?.message}" / "${message}"\n`,
    );
  }, 300_000);
});
