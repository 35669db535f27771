import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  type Backup,
  type BackupTarget as BackupTargetCr,
  type BackupVolume,
  type Engine,
  isTicketSatisfied,
  NAMESPACE,
  type Snapshot,
  type Volume,
} from '@longhorn-ts/api';
import { encodeBackupUrl } from '@longhorn-ts/dataplane/backup/backup-url';
import { loadBackup, loadVolume } from '@longhorn-ts/dataplane/backup/config-store';
import { createBackup } from '@longhorn-ts/dataplane/backup/create-backup';
import { backupCfgPath, blockPath, blocksDir, volumeDir } from '@longhorn-ts/dataplane/backup/layout';
import { listVolumeNames } from '@longhorn-ts/dataplane/backup/list-backups';
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
  apiTicketId,
  applyYaml,
  attachByTicket,
  condition,
  enginesOf,
  getAttachment,
  getVolume,
  isAttachedHealthy,
  LH,
  removeTicket,
  snapshotYaml,
  volumeYaml,
  waitForEndpoint,
  waitForVolume,
} from '../src/harness/longhorn-volumes.js';
import { waitFor } from '../src/harness/wait.js';

/**
 * Backups on the real cluster with the MinIO `cluster up` starts: the default BackupTarget,
 * targets that cannot be used, Backup CRs of a volume written through NBD (full, then
 * incremental), the BackupVolume, CRs made for what the store holds, deletion from the store.
 * One cluster for the file: further describe blocks (restore) use the same one.
 */

const skip = process.env.LONGHORN_TS_SKIP_K8S === '1';
const exec = promisify(execFile);
const MiB = 1 << 20;
const SIZE = 32 * MiB;
const BT = 'backuptargets.longhorn.io';
const BV = 'backupvolumes.longhorn.io';
const BACKUPS = 'backups.longhorn.io';

function backupYaml(name: string, volume: string, snapshot: string): string {
  return [
    'apiVersion: longhorn.io/v1beta2',
    'kind: Backup',
    'metadata:',
    `  name: ${name}`,
    `  namespace: ${NAMESPACE}`,
    '  labels:',
    `    backup-volume: ${volume}`,
    'spec:',
    `  snapshotName: ${snapshot}`,
    '  labels:',
    '    e2e: backup-test',
    '',
  ].join('\n');
}

function targetYaml(name: string, url: string, secret: string): string {
  return [
    'apiVersion: longhorn.io/v1beta2',
    'kind: BackupTarget',
    'metadata:',
    `  name: ${name}`,
    `  namespace: ${NAMESPACE}`,
    'spec:',
    `  backupTargetURL: ${url}`,
    `  credentialSecret: ${secret}`,
    '  pollInterval: 5m0s',
    '',
  ].join('\n');
}

describe.skipIf(skip)('backups to the cluster MinIO: targets, Backup CRs, BackupVolumes', () => {
  let dir: string;
  let work: string;
  let cluster: Cluster;
  let store: BackupTarget;

  beforeAll(async () => {
    await stopAbandonedClusters(tmpdir(), 'lh-e2e-backup-');
    dir = await mkdtemp(join(tmpdir(), 'lh-e2e-backup-'));
    work = join(dir, 'work');
    await mkdir(work);
    const t0 = Date.now();
    cluster = await Cluster.start({
      dir: join(dir, 'cluster'),
      nodes: 2,
      longhorn: true,
      timeoutMs: 150_000,
    });
    process.stdout.write(
      `[backup.test] cluster with longhorn-ts and MinIO started in ${Date.now() - t0} ms\n`,
    );
    const b = cluster.backupstore;
    store = openTarget(b.targetUrl, b.credentials);
  }, 180_000);

  afterAll(async () => {
    await store?.close();
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function dumpLogsOnFailure(): void {
    onTestFailed(async () => {
      process.stderr.write(`${await cluster.logTails(40)}\n`);
    });
  }

  const kubectl = () => cluster.kubectl;
  const getTarget = (name: string) => kubectl().tryGet<BackupTargetCr>(BT, name, NAMESPACE);
  const getBackup = (name: string) => kubectl().tryGet<Backup>(BACKUPS, name, NAMESPACE);

  /** The whole volume through its engine's NBD endpoint. */
  async function readThroughNbd(uri: string): Promise<Buffer> {
    const out = join(work, `read-${Date.now()}.bin`);
    await exec('nbdcopy', [uri, out], { timeout: 120_000 });
    try {
      return await readFile(out);
    } finally {
      await rm(out, { force: true });
    }
  }

  /** The whole volume through NBD, attached to `node` by a ticket for the read. */
  async function attachAndRead(volume: string, node: string): Promise<Buffer> {
    const ticket = await attachByTicket(kubectl(), volume, node);
    try {
      const uri = await waitForEndpoint(kubectl(), volume, 120_000);
      return await readThroughNbd(uri);
    } finally {
      await removeTicket(kubectl(), volume, ticket);
    }
  }

  async function eventsOf(
    name: string,
  ): Promise<Array<{ type?: string; reason?: string; message?: string }>> {
    const events = await kubectl().list<
      KubeObject & { type?: string; reason?: string; message?: string; involvedObject?: { name?: string } }
    >('events', NAMESPACE);
    return events.filter((e) => e.involvedObject?.name === name);
  }

  async function waitForTarget(name: string, what: string, ok: (t: BackupTargetCr) => boolean) {
    let last: BackupTargetCr | undefined;
    try {
      return await waitFor(
        `backup target ${name} to be ${what}`,
        async () => {
          last = await getTarget(name);
          return last !== undefined && ok(last) ? last : undefined;
        },
        { timeoutMs: 60_000, maxIntervalMs: 500 },
      );
    } catch (err) {
      (err as Error).message += `; last: ${JSON.stringify(last ?? null)}`;
      throw err;
    }
  }

  async function waitForBackup(name: string, timeoutMs = 90_000): Promise<Backup> {
    let last: Backup | undefined;
    try {
      return await waitFor(
        `backup ${name} to complete`,
        async () => {
          last = await getBackup(name);
          if (last?.status?.state === 'Error')
            throw Object.assign(new Error(last.status.error), { fatal: true });
          return last?.status?.state === 'Completed' ? last : undefined;
        },
        { timeoutMs, maxIntervalMs: 500, isFatal: (e) => (e as { fatal?: boolean }).fatal === true },
      );
    } catch (err) {
      (err as Error).message += `; last: ${JSON.stringify(last?.status ?? null)}`;
      throw err;
    }
  }

  describe('backup targets', () => {
    it('the default BackupTarget names the cluster MinIO (Settings backup-target and backup-target-credential-secret) and is available', async () => {
      dumpLogsOnFailure();
      const b = cluster.backupstore;
      const t = await waitForTarget('default', 'available', (x) => x.status?.available === true);
      expect(t.spec?.backupTargetURL).toBe(b.targetUrl);
      expect(t.spec?.credentialSecret).toBe('minio-secret');
      expect(t.spec?.pollInterval).toBe('5m0s');
      expect(condition(t, 'Unavailable')?.status).toBe('False');
      expect(t.status?.lastSyncedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    });

    it('a target with refused credentials, one that does not answer and one without its bucket are Unavailable, each with its reason', async () => {
      dumpLogsOnFailure();
      const b = cluster.backupstore;
      const secret = (name: string, data: Record<string, string>) =>
        kubectl().apply({
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name, namespace: NAMESPACE },
          stringData: data,
        });
      await secret('wrong-secret', { ...b.credentials, AWS_SECRET_ACCESS_KEY: 'not-the-password' });
      await secret('nowhere-secret', { ...b.credentials, AWS_ENDPOINTS: 'http://127.0.0.1:9' });
      const cases: Array<[string, string, string, RegExp]> = [
        ['wrong-creds', `s3://${b.bucket}@us-east-1/wrong/`, 'wrong-secret', /credentials refused/],
        ['unreachable', `s3://${b.bucket}@us-east-1/nowhere/`, 'nowhere-secret', /unreachable/],
        ['no-bucket', 's3://no-such-bucket@us-east-1/', 'minio-secret', /no bucket no-such-bucket/],
        [
          'no-secret',
          `s3://${b.bucket}@us-east-1/nosecret/`,
          'missing-secret',
          /credential secret missing-secret not found/,
        ],
      ];
      try {
        for (const [name, url, sec] of cases) await applyYaml(kubectl(), targetYaml(name, url, sec));
        for (const [name, , , message] of cases) {
          const t = await waitForTarget(
            name,
            'Unavailable',
            (x) => condition(x, 'Unavailable')?.status === 'True',
          );
          expect(t.status?.available, name).toBe(false);
          expect(condition(t, 'Unavailable')?.reason).toBe('Unavailable');
          expect(condition(t, 'Unavailable')?.message, name).toMatch(message);
        }
        // Fixing the credentials makes it available.
        await secret('wrong-secret', b.credentials);
        await kubectl().run([
          'patch',
          BT,
          'wrong-creds',
          '-n',
          NAMESPACE,
          '--type=merge',
          '-p',
          JSON.stringify({ spec: { syncRequestedAt: new Date().toISOString() } }),
        ]);
        await waitForTarget(
          'wrong-creds',
          'available once the Secret is right',
          (x) => x.status?.available === true,
        );
      } finally {
        for (const [name] of cases)
          await kubectl().run(['delete', BT, name, '-n', NAMESPACE, '--ignore-not-found']);
      }
    });
  });

  describe('backups of a volume written through NBD', () => {
    const vol = 'bk-vol';
    let uri = '';
    let firstUploaded = 0;
    const first = randomBytes(4 * MiB);

    async function writeAt(data: Buffer, offset: number): Promise<void> {
      const file = join(work, `w-${offset}.bin`);
      await writeFile(file, data);
      // nbdcopy writes the file at the start: qemu-io writes at an offset.
      await exec('qemu-io', ['-f', 'raw', '-c', `write -s ${file} ${offset} ${data.length}`, uri], {
        timeout: 60_000,
      });
      await rm(file, { force: true });
    }

    async function snapshot(name: string): Promise<void> {
      await applyYaml(kubectl(), snapshotYaml(name, vol));
      await waitFor(`snapshot ${name} to be ready`, async () => {
        const s = await kubectl().tryGet<Snapshot>(LH.snapshots, name, NAMESPACE);
        return s?.status?.readyToUse === true;
      });
    }

    it('a Backup CR of a snapshot completes: url, size, snapshot time, labels; the store holds its cfg', async () => {
      dumpLogsOnFailure();
      await applyYaml(kubectl(), volumeYaml(vol, { size: String(SIZE), numberOfReplicas: 2 }));
      await attachByTicket(kubectl(), vol, 'node-1');
      await waitForVolume(
        kubectl(),
        vol,
        'attached to node-1 and healthy',
        isAttachedHealthy('node-1'),
        120_000,
      );
      uri = await waitForEndpoint(kubectl(), vol);
      await writeAt(first, 0);
      await snapshot('bk-snap-1');
      const t0 = Date.now();
      await applyYaml(kubectl(), backupYaml('backup-e2e-1', vol, 'bk-snap-1'));
      const b = await waitForBackup('backup-e2e-1');
      process.stdout.write(`[backup.test] first backup (4 MiB of data) completed in ${Date.now() - t0} ms\n`);
      const targetUrl = cluster.backupstore.targetUrl;
      expect(b.status?.url).toBe(encodeBackupUrl(targetUrl, vol, 'backup-e2e-1'));
      expect(b.status?.size).toBe(String(4 * MiB));
      expect(b.status?.volumeName).toBe(vol);
      expect(b.status?.volumeSize).toBe(String(SIZE));
      expect(b.status?.snapshotName).toBe('bk-snap-1');
      expect(b.status?.snapshotCreatedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(b.status?.backupTargetName).toBe('default');
      expect(b.status?.progress).toBe(100);
      expect(b.status?.labels).toMatchObject({ e2e: 'backup-test' });
      expect(b.metadata.labels).toMatchObject({
        'backup-volume': vol,
        'longhorn.io/backup-target': 'default',
      });
      expect(b.metadata.finalizers).toContain('longhorn.io');
      const cfg = await loadBackup(store, vol, 'backup-e2e-1');
      expect(cfg.SnapshotName).toBe('bk-snap-1');
      expect(cfg.Blocks.map((x) => x.Offset)).toEqual([0, 2 * MiB]);
      expect(cfg.IsIncremental).toBe(false);
      firstUploaded = Number(b.status?.newlyUploadDataSize);
      // Random data does not compress: both blocks went up whole.
      expect(firstUploaded).toBeGreaterThan(4 * MiB * 0.99);
    }, 240_000);

    it('the BackupVolume and the Volume say what the last backup is', async () => {
      dumpLogsOnFailure();
      const bv = await waitFor('the BackupVolume of the volume to name backup-e2e-1', async () => {
        const all = await kubectl().list<BackupVolume>(BV, NAMESPACE);
        const x = all.find((v) => v.spec?.volumeName === vol);
        return x?.status?.lastBackupName === 'backup-e2e-1' ? x : undefined;
      });
      expect(bv.spec?.backupTargetName).toBe('default');
      expect(bv.metadata.labels).toMatchObject({
        'backup-volume': vol,
        'longhorn.io/backup-target': 'default',
      });
      expect(bv.status?.size).toBe(String(SIZE));
      expect(bv.status?.dataStored).toBe(String(4 * MiB));
      expect(bv.status?.lastBackupAt).toMatch(/^\d{4}-\d\d-\d\dT/);
      await waitForVolume(
        kubectl(),
        vol,
        'naming its last backup',
        (v) => v.status?.lastBackup === 'backup-e2e-1',
      );
      const v = await getVolume(kubectl(), vol);
      expect(v?.status?.lastBackupAt).toBe(bv.status?.lastBackupAt);
    });

    it('a second backup after a 64 KiB write is incremental: one block uploaded', async () => {
      dumpLogsOnFailure();
      await writeAt(randomBytes(64 * 1024), 8 * MiB);
      await snapshot('bk-snap-2');
      await applyYaml(kubectl(), backupYaml('backup-e2e-2', vol, 'bk-snap-2'));
      const b = await waitForBackup('backup-e2e-2');
      const uploaded = Number(b.status?.newlyUploadDataSize);
      process.stdout.write(
        `[backup.test] incremental backup uploaded ${uploaded} bytes (the full one ${firstUploaded})\n`,
      );
      expect(b.status?.size).toBe(String(6 * MiB));
      expect(uploaded).toBeGreaterThan(0);
      expect(uploaded).toBeLessThan(firstUploaded / 20);
      const cfg = await loadBackup(store, vol, 'backup-e2e-2');
      expect(cfg.IsIncremental).toBe(true);
      expect(cfg.Blocks.map((x) => x.Offset)).toEqual([0, 2 * MiB, 8 * MiB]);
      expect((await loadVolume(store, vol)).LastBackupName).toBe('backup-e2e-2');
    }, 180_000);

    it('a Backup CR lost from the cluster comes back from the store on the next sync, Completed', async () => {
      dumpLogsOnFailure();
      // A CR removed by a sync keeps its backup in the store: the same annotation here.
      const before = await getBackup('backup-e2e-1');
      await kubectl().run([
        'annotate',
        BACKUPS,
        'backup-e2e-1',
        '-n',
        NAMESPACE,
        'longhorn-ts.io/keep-in-store=true',
      ]);
      await kubectl().run(['delete', BACKUPS, 'backup-e2e-1', '-n', NAMESPACE, '--wait=true']);
      expect((await loadBackup(store, vol, 'backup-e2e-1')).Name).toBe('backup-e2e-1');
      // The deletion asks for a sync itself; a user can too.
      await kubectl().run([
        'patch',
        BT,
        'default',
        '-n',
        NAMESPACE,
        '--type=merge',
        '-p',
        JSON.stringify({ spec: { syncRequestedAt: new Date().toISOString() } }),
      ]);
      await waitFor('a new Backup CR for backup-e2e-1', async () => {
        const b = await getBackup('backup-e2e-1');
        return b !== undefined && b.metadata.uid !== before?.metadata.uid;
      });
      const b = await waitForBackup('backup-e2e-1', 60_000);
      expect(b.spec?.snapshotName ?? '').toBe('');
      expect(b.status?.snapshotName).toBe('bk-snap-1');
      expect(b.status?.url).toBe(encodeBackupUrl(cluster.backupstore.targetUrl, vol, 'backup-e2e-1'));
      expect(b.status?.size).toBe(String(4 * MiB));
    });

    it('deleting a Backup CR deletes the backup from MinIO and collects the blocks only it held', async () => {
      dumpLogsOnFailure();
      const blocksBefore = (await store.listAll(blocksDir(vol))).length;
      expect(blocksBefore).toBe(3);
      await kubectl().run(['delete', BACKUPS, 'backup-e2e-2', '-n', NAMESPACE, '--wait=true'], {
        timeoutMs: 60_000,
      });
      expect(await store.exists(backupCfgPath(vol, 'backup-e2e-2'))).toBe(false);
      expect((await store.listAll(blocksDir(vol))).length).toBe(2);
      expect((await loadVolume(store, vol)).LastBackupName).toBe('backup-e2e-1');
      await waitFor('the BackupVolume to name backup-e2e-1 again', async () => {
        const all = await kubectl().list<BackupVolume>(BV, NAMESPACE);
        return all.find((v) => v.spec?.volumeName === vol)?.status?.lastBackupName === 'backup-e2e-1';
      });
    }, 120_000);

    it('a backup whose operator is killed mid-way is run again by the restarted operator and completes', async () => {
      dumpLogsOnFailure();
      await writeAt(randomBytes(16 * MiB), 12 * MiB);
      await snapshot('bk-snap-3');
      const node = cluster.longhorn.node('node-1');
      await applyYaml(kubectl(), backupYaml('backup-e2e-3', vol, 'bk-snap-3'));
      try {
        await waitFor(
          'backup-e2e-3 to be in progress',
          async () => {
            const b = await getBackup('backup-e2e-3');
            return b?.status?.state === 'InProgress' || b?.status?.state === 'Completed';
          },
          { intervalMs: 20, maxIntervalMs: 50, timeoutMs: 60_000 },
        );
        await node.killOperator();
      } finally {
        // What the CR says once its operator is dead is what it said when the kill came.
        const atKill = await getBackup('backup-e2e-3');
        process.stdout.write(
          `[backup.test] node-1's operator killed with backup-e2e-3 ${atKill?.status?.state} at ${atKill?.status?.progress}%\n`,
        );
        await node.startOperator();
        const b = await waitForBackup('backup-e2e-3', 180_000);
        if (atKill?.status?.state === 'InProgress') expect(b.status?.messages?.retried).toMatch(/run again/);
      }
      const cfg = await loadBackup(store, vol, 'backup-e2e-3');
      expect(cfg.IsIncremental).toBe(true);
      expect(cfg.Blocks.map((x) => x.Offset / MiB)).toEqual([0, 2, 8, 12, 14, 16, 18, 20, 22, 24, 26]);
    }, 300_000);

    it('a backup of a detached volume attaches it (backup-controller ticket), completes, and the volume detaches again', async () => {
      dumpLogsOnFailure();
      await removeTicket(kubectl(), vol, apiTicketId(vol));
      await waitForVolume(kubectl(), vol, 'detached', (v) => v.status?.state === 'detached', 90_000);
      await applyYaml(kubectl(), backupYaml('backup-e2e-4', vol, 'bk-snap-3'));
      const b = await waitForBackup('backup-e2e-4', 180_000);
      expect(b.status?.size).toBe(String(22 * MiB));
      await waitForVolume(kubectl(), vol, 'detached again', (v) => v.status?.state === 'detached', 90_000);
      const va = await getAttachment(kubectl(), vol);
      expect(Object.keys(va?.spec.attachmentTickets ?? {})).toEqual([]);
      expect((await loadBackup(store, vol, 'backup-e2e-4')).SnapshotName).toBe('bk-snap-3');
    }, 300_000);
  });

  describe('restore from a backup and standby (DR) volumes', () => {
    /** Backups are made in this process with the backupstore library; a quick lock settle. */
    const LOCKS = { settleMs: 50, refreshMs: 60_000, expiryMs: 150_000 };
    const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    let targetUrl = '';
    let source: Replica;
    /** What the source volume 'src' holds now (every write goes here and to its replica). */
    const expected = Buffer.alloc(SIZE);
    const backups: string[] = [];

    let pollInterval = '';

    beforeAll(async () => {
      // A standby volume follows its backups at the target's poll interval: 2 s here (the
      // default target's own is put back afterwards).
      targetUrl = cluster.backupstore.targetUrl;
      pollInterval = (await getTarget('default'))?.spec?.pollInterval ?? '';
      await kubectl().run([
        'patch',
        BT,
        'default',
        '-n',
        NAMESPACE,
        '--type=merge',
        '-p',
        JSON.stringify({ spec: { pollInterval: '2s' } }),
      ]);
      await mkdir(join(work, 'source'));
      source = await Replica.create(join(work, 'source', 'r'), { size: SIZE });
    });

    afterAll(async () => {
      await source?.close();
      if (pollInterval)
        await kubectl().run([
          'patch',
          BT,
          'default',
          '-n',
          NAMESPACE,
          '--type=merge',
          '-p',
          JSON.stringify({ spec: { pollInterval } }),
        ]);
    });

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
        `[backup.test] 14 MiB of a 32 MiB backup restored into 2 replicas in ${(restoreMs / 1000).toFixed(1)} s; progress seen: ${[...progress].join(' | ')}\n`,
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
          // A restore waits for its ticket's attach and the target's poll; two files run at once.
          240_000,
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
        240_000,
      );
      expect(active.status?.lastBackup).toBe(b3);
      const data = await attachAndRead('dr-1', 'node-2');
      expect(sha256(data)).toBe(sha256(expected));
      process.stdout.write(
        `[backup.test] standby volume caught up with backup 2 ${(followMs / 1000).toFixed(1)} s after it was taken (poll 2 s)\n`,
      );
    }, 900_000);

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
      const other = await Replica.create(join(work, 'source', 'other'), { size: SIZE });
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
        `[backup.test] failures: "${condition(missing, 'Restore')?.message}" / "${message}"\n`,
      );
    }, 300_000);

    it('a restore whose operator is killed mid-way is started again and completes byte-identical', async () => {
      dumpLogsOnFailure();
      // 32 MiB of random blocks: long enough a restore to be caught half-way.
      const big = await Replica.create(join(work, 'source', 'big'), { size: SIZE });
      const data = randomBytes(SIZE);
      let b = '';
      try {
        for (let off = 0; off < SIZE; off += 4 * MiB) await big.write(off, data.subarray(off, off + 4 * MiB));
        b = await backup('big', big);
      } finally {
        await big.close();
      }
      await applyYaml(
        kubectl(),
        volumeYaml('rst-kill', {
          size: String(SIZE),
          numberOfReplicas: 2,
          extra: { fromBackup: urlOf(b, 'big') },
        }),
      );
      const running = await waitFor(
        'rst-kill to be restoring',
        async () => {
          const v = await getVolume(kubectl(), 'rst-kill');
          const m = condition(v, 'Restore')?.message ?? '';
          return /: (\d|[1-8]\d)%$/.test(m) && v?.status?.ownerID
            ? { owner: v.status.ownerID, m }
            : undefined;
        },
        { intervalMs: 20, maxIntervalMs: 50, timeoutMs: 120_000 },
      );
      const node = cluster.longhorn.node(running.owner);
      await node.killOperator();
      process.stdout.write(`[backup.test] ${running.owner}'s operator killed at "${running.m}"\n`);
      await node.startOperator();
      const done = await waitForVolume(
        kubectl(),
        'rst-kill',
        'restored after the kill',
        (v) => v.status?.restoreRequired === false,
        240_000,
      );
      expect(condition(done, 'Restore')?.message).toBe(`restored from backup ${b}`);
      const read = await attachAndRead('rst-kill', 'node-1');
      expect(sha256(read)).toBe(sha256(data));
    }, 400_000);
  });

  describe('encrypted volumes', () => {
    const CRYPTO = 'bk-crypto';
    const PASSPHRASE = 'a backup e2e passphrase';
    const crypto = { 'longhorn-ts.io/crypto-secret': `${NAMESPACE}/${CRYPTO}` };
    const data = randomBytes(4 * MiB);
    let backupUrl = '';

    it('a backup of an encrypted volume carries its key record; a volume restored from it with the same crypto Secret reads the data back; a plain volume is refused', async () => {
      dumpLogsOnFailure();
      await applyYaml(
        kubectl(),
        [
          'apiVersion: v1',
          'kind: Secret',
          'metadata:',
          `  name: ${CRYPTO}`,
          `  namespace: ${NAMESPACE}`,
          'stringData:',
          `  CRYPTO_KEY_VALUE: "${PASSPHRASE}"`,
          '  CRYPTO_KEY_PROVIDER: secret',
          '  CRYPTO_PBKDF: pbkdf2',
          '',
        ].join('\n'),
      );
      await applyYaml(
        kubectl(),
        volumeYaml('enc-src', {
          size: String(SIZE),
          numberOfReplicas: 1,
          annotations: crypto,
          extra: { encrypted: true },
        }),
      );
      const ticket = await attachByTicket(kubectl(), 'enc-src', 'node-1');
      await waitForVolume(kubectl(), 'enc-src', 'attached and healthy', isAttachedHealthy('node-1'), 120_000);
      const uri = await waitForEndpoint(kubectl(), 'enc-src');
      const file = join(work, 'enc-data.bin');
      await writeFile(file, data);
      await exec('qemu-io', ['-f', 'raw', '-c', `write -s ${file} 0 ${data.length}`, uri], {
        timeout: 60_000,
      });
      await applyYaml(kubectl(), snapshotYaml('enc-snap', 'enc-src'));
      await waitFor('snapshot enc-snap to be ready', async () => {
        const s = await kubectl().tryGet<Snapshot>(LH.snapshots, 'enc-snap', NAMESPACE);
        return s?.status?.readyToUse === true;
      });
      await applyYaml(kubectl(), backupYaml('enc-backup', 'enc-src', 'enc-snap'));
      const b = await waitForBackup('enc-backup');
      backupUrl = b.status?.url ?? '';
      await removeTicket(kubectl(), 'enc-src', ticket);

      // The store holds the record: the data key wrapped, the passphrase nowhere.
      const cfg = await loadBackup(store, 'enc-src', 'enc-backup');
      const record = JSON.parse(cfg.Parameters?.['longhorn-ts.io/volume-key-record'] ?? 'null');
      expect(record?.envelope?.wrappedKey).toEqual(expect.any(String));
      expect(record?.kek?.provider).toBe('secret');
      expect(JSON.stringify(cfg)).not.toContain(PASSPHRASE);

      // Restored with the same crypto Secret: byte-identical through NBD.
      await applyYaml(
        kubectl(),
        volumeYaml('enc-rst', {
          size: String(SIZE),
          numberOfReplicas: 1,
          annotations: crypto,
          extra: { encrypted: true, fromBackup: backupUrl },
        }),
      );
      // A plain volume from the same backup: refused, never attached.
      await applyYaml(
        kubectl(),
        volumeYaml('enc-rst-plain', {
          size: String(SIZE),
          numberOfReplicas: 1,
          extra: { fromBackup: backupUrl },
        }),
      );
      await waitForVolume(
        kubectl(),
        'enc-rst',
        'restored',
        (v) => v.status?.restoreInitiated === true && v.status.restoreRequired === false,
        180_000,
      );
      const read = await attachAndRead('enc-rst', 'node-1');
      expect(read.subarray(0, data.length).equals(data)).toBe(true);

      const refused = await waitFor('the plain volume to be refused', async () => {
        const v = await getVolume(kubectl(), 'enc-rst-plain');
        const c = condition(v, 'Restore');
        return c?.reason === 'RestoreFailure' ? c : undefined;
      });
      expect(refused.message).toBe(
        `backup enc-backup was taken of an encrypted volume (its blocks are ciphertext): restore it into a volume with spec.encrypted: true and a crypto Secret that opens its key (volume enc-rst-plain is not encrypted)`,
      );
      expect((await getVolume(kubectl(), 'enc-rst-plain'))?.status?.state).not.toBe('attached');
    }, 300_000);

    it('a clone of the encrypted volume with the same crypto Secret reads the data back; a plain clone is refused', async () => {
      dumpLogsOnFailure();
      await applyYaml(
        kubectl(),
        volumeYaml('enc-clone', {
          size: String(SIZE),
          numberOfReplicas: 1,
          annotations: crypto,
          extra: { encrypted: true, dataSource: 'vol://enc-src' },
        }),
      );
      await applyYaml(
        kubectl(),
        volumeYaml('enc-clone-plain', {
          size: String(SIZE),
          numberOfReplicas: 1,
          extra: { dataSource: 'vol://enc-src' },
        }),
      );
      const state = async (name: string) => (await getVolume(kubectl(), name))?.status?.cloneStatus?.state;
      await waitFor(
        'enc-clone to be cloned',
        async () => ((await state('enc-clone')) === 'completed' ? true : undefined),
        {
          timeoutMs: 180_000,
        },
      );
      const read = await attachAndRead('enc-clone', 'node-1');
      expect(read.subarray(0, data.length).equals(data)).toBe(true);

      await waitFor('the plain clone to fail', async () =>
        (await state('enc-clone-plain')) === 'failed' ? true : undefined,
      );
      const failed = (await eventsOf('enc-clone-plain')).find((e) => e.reason === 'CloneFailed');
      expect(failed?.message).toBe(
        'volume enc-src is encrypted (its blocks are ciphertext): clone it into a volume with spec.encrypted: true and a crypto Secret that opens its key (volume enc-clone-plain is not encrypted)',
      );
    }, 300_000);
  });

  describe('deleting a BackupVolume', () => {
    it('deletes every backup of that volume from MinIO and its Backup CRs; a sync does not bring it back', async () => {
      dumpLogsOnFailure();
      const vol = 'bk-vol-2';
      await applyYaml(kubectl(), volumeYaml(vol, { size: String(8 * MiB), numberOfReplicas: 1 }));
      await attachByTicket(kubectl(), vol, 'node-2');
      await waitForVolume(kubectl(), vol, 'attached to node-2', isAttachedHealthy('node-2'), 120_000);
      const uri = await waitForEndpoint(kubectl(), vol);
      const file = join(work, 'bv.bin');
      await writeFile(file, randomBytes(2 * MiB));
      await exec('nbdcopy', [file, uri], { timeout: 60_000 });
      await applyYaml(kubectl(), snapshotYaml('bk2-snap', vol));
      await applyYaml(kubectl(), backupYaml('backup-e2e-bv', vol, 'bk2-snap'));
      await waitForBackup('backup-e2e-bv');
      const bv = await waitFor('the BackupVolume of bk-vol-2', async () => {
        const all = await kubectl().list<BackupVolume>(BV, NAMESPACE);
        return all.find((v) => v.spec?.volumeName === vol && v.status?.lastBackupName === 'backup-e2e-bv');
      });
      expect(bv.metadata.finalizers).toContain('longhorn.io');
      expect((await store.listAll(volumeDir(vol))).length).toBeGreaterThan(0);
      const others = (await listVolumeNames(store)).filter((v) => v !== vol);
      await kubectl().run(['delete', BV, bv.metadata.name, '-n', NAMESPACE, '--wait=true'], {
        timeoutMs: 90_000,
      });
      expect(await store.listAll(volumeDir(vol))).toEqual([]);
      await waitFor(
        'the Backup CR of bk-vol-2 to go',
        async () => (await getBackup('backup-e2e-bv')) === undefined,
      );
      // The other volumes' backups are untouched.
      expect(await listVolumeNames(store)).toEqual(others);
      const synced = (await getTarget('default'))?.status?.lastSyncedAt ?? '';
      // lastSyncedAt has whole seconds: a sync within the same second as the last one would not
      // show as newer, so the request goes out once that second is over.
      await new Promise((r) => setTimeout(r, 1_100));
      await kubectl().run([
        'patch',
        BT,
        'default',
        '-n',
        NAMESPACE,
        '--type=merge',
        '-p',
        JSON.stringify({ spec: { syncRequestedAt: new Date(Date.now() + 1000).toISOString() } }),
      ]);
      await waitForTarget('default', 'synced again', (t) => (t.status?.lastSyncedAt ?? '') > synced);
      const all = await kubectl().list<BackupVolume>(BV, NAMESPACE);
      expect(all.filter((v) => v.spec?.volumeName === vol)).toEqual([]);
    }, 300_000);
  });
});
