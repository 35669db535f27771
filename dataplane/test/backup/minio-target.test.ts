import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackup } from '../../src/backup/create-backup.js';
import { deleteBackup } from '../../src/backup/delete-backup.js';
import { volumeCfgPath } from '../../src/backup/layout.js';
import { listBackups } from '../../src/backup/list-backups.js';
import { restoreBackup } from '../../src/backup/restore-backup.js';
import { StoreSnapshotSource } from '../../src/backup/snapshot-source.js';
import { openTarget } from '../../src/backup/target-url.js';
import { freePort } from '../../src/cli/detached-process.js';
import type { Replica } from '../../src/replica/index.js';
import { MinioServer } from './minio-server.js';
import { FAST_LOCKS, fileSink, MiB, newReplica, snapshotHash, TempDirs, writeAt } from './store-fixtures.js';

const dirs = new TempDirs();
const minio = new MinioServer();
const URL_ = 's3://backups@us-east-1/store';

beforeAll(() => minio.start(), 60_000);
afterAll(async () => {
  await minio.stop();
  dirs.cleanup();
});

async function restoreHash(volume: string, backup: string, size: number): Promise<string> {
  const target = openTarget(URL_, minio.credentials());
  try {
    const { sink, close } = await fileSink(join(dirs.make('lh-s3-out'), 'r.img'), size);
    await restoreBackup({ target, volume, backup, sink, lockTiming: FAST_LOCKS });
    return await close();
  } finally {
    await target.close();
  }
}

describe('backups to a real MinIO (S3)', () => {
  let replica: Replica;
  const size = 64 * MiB;
  let first = '';

  afterAll(async () => {
    await replica?.close();
  });

  it('a full backup lands in Longhorn layout under the URL path, and restores byte-identical', async () => {
    replica = await newReplica(dirs, size);
    await writeAt(replica, 0, randomBytes(40 * MiB));
    await replica.snapshot('s1');
    const target = openTarget(URL_, minio.credentials());
    try {
      const res = await createBackup({
        target,
        source: new StoreSnapshotSource(replica),
        volume: 'pvc-s3',
        snapshot: 's1',
        lockTiming: FAST_LOCKS,
      });
      first = res.backup.Name;
      expect(res.url).toBe(`${URL_}?backup=${first}&volume=pvc-s3`);
      expect(res.stats).toMatchObject({ blocksRead: 20, blocksUploaded: 20 });
      // Requests: the target check's LIST, the lock's and one of the volume's blocks; a PUT per block.
      expect(res.stats.requests.list).toBeLessThanOrEqual(3);
      expect(res.stats.requests.put).toBe(20 + 2 + 2 + 2); // blocks, 2 cfg writes, 2 volume.cfg, 2 lock writes
      const s3 = minio.client();
      try {
        const cfg = await s3.send(
          new GetObjectCommand({ Bucket: 'backups', Key: `store/${volumeCfgPath('pvc-s3')}` }),
        );
        expect(JSON.parse(await cfg.Body!.transformToString())).toMatchObject({
          Name: 'pvc-s3',
          Size: String(size),
          LastBackupName: first,
        });
        const keys = await s3.send(
          new ListObjectsV2Command({ Bucket: 'backups', Prefix: 'store/backupstore/volumes/' }),
        );
        const blockKeys = (keys.Contents ?? []).map((c) => c.Key!).filter((k) => k.endsWith('.blk'));
        expect(blockKeys).toHaveLength(20);
        for (const k of blockKeys)
          expect(k).toMatch(
            /^store\/backupstore\/volumes\/[0-9a-f]{2}\/[0-9a-f]{2}\/pvc-s3\/blocks\/([0-9a-f]{2})\/([0-9a-f]{2})\/\1\2[0-9a-f]{60}\.blk$/,
          );
      } finally {
        s3.destroy();
      }
    } finally {
      await target.close();
    }
    expect(await restoreHash('pvc-s3', first, size)).toBe(await snapshotHash(replica, 's1'));
  });

  it('an incremental backup uploads the changed block only, LISTing twice (target check, lock)', async () => {
    await writeAt(replica, 10 * MiB, randomBytes(4096));
    await replica.snapshot('s2');
    const target = openTarget(URL_, minio.credentials());
    try {
      const res = await createBackup({
        target,
        source: new StoreSnapshotSource(replica),
        volume: 'pvc-s3',
        snapshot: 's2',
        lockTiming: FAST_LOCKS,
      });
      expect(res.stats).toMatchObject({ incremental: true, blocksRead: 1, blocksUploaded: 1 });
      expect(res.stats.requests.list).toBe(2);
      expect(res.stats.requests.head).toBeLessThanOrEqual(4);
      expect(await restoreHash('pvc-s3', res.backup.Name, size)).toBe(await snapshotHash(replica, 's2'));
      const list = await listBackups(target);
      expect(list.map((b) => [b.volume, b.state]).sort()).toEqual([
        ['pvc-s3', 'Completed'],
        ['pvc-s3', 'Completed'],
      ]);
      const listsBefore = target.requests.list;
      const del = await deleteBackup({ target, volume: 'pvc-s3', backup: first, lockTiming: FAST_LOCKS });
      // Target check, lock, backup names twice, one recursive LIST of the blocks. Longhorn walks
      // blocks/ folder by folder: 1 + one per first-level + one per second-level folder (~40
      // for these 21 blocks, up to 65793 for a large volume).
      expect(target.requests.list - listsBefore).toBe(5);
      expect(del).toEqual({ blocksDeleted: 1, blocksRetained: 20 });
      expect(await restoreHash('pvc-s3', res.backup.Name, size)).toBe(await snapshotHash(replica, 's2'));
    } finally {
      await target.close();
    }
  });

  it("a second volume's first backup copies the blocks the first holds inside the bucket (CopyObject)", async () => {
    const twin = await newReplica(dirs, size);
    const target = openTarget(URL_, minio.credentials());
    try {
      await writeAt(twin, 0, await replica.readSnapshot('s1', 0, 40 * MiB));
      await twin.snapshot('t1');
      const res = await createBackup({
        target,
        source: new StoreSnapshotSource(twin),
        volume: 'pvc-twin',
        snapshot: 't1',
        lockTiming: FAST_LOCKS,
      });
      // s1's blocks: 19 still referenced by pvc-s3's remaining backup (one was collected).
      expect(res.stats).toMatchObject({ blocksRead: 20, blocksCopied: 19, blocksUploaded: 1 });
      expect(res.stats.requests.copy).toBe(19);
      expect(res.stats.requests.put).toBe(1 + 6);
      expect(await restoreHash('pvc-twin', res.backup.Name, size)).toBe(await snapshotHash(twin, 't1'));
    } finally {
      await target.close();
      await twin.close();
    }
  });

  it('wrong credentials are refused with a clear error', async () => {
    const target = openTarget(URL_, { ...minio.credentials(), AWS_SECRET_ACCESS_KEY: 'wrong' });
    try {
      const err = await listBackups(target).catch((e) => e);
      expect(err.code).toBe('ACCESS_DENIED');
      expect(err.message).toMatch(
        /^backup target s3:\/\/backups@us-east-1\/store: credentials refused \(SignatureDoesNotMatch\)/,
      );
      const err2 = await createBackup({
        target,
        source: new StoreSnapshotSource(replica),
        volume: 'pvc-s3',
        snapshot: 's2',
      }).catch((e) => e);
      expect(err2.code).toBe('ACCESS_DENIED');
    } finally {
      await target.close();
    }
    const unknown = openTarget(URL_, { ...minio.credentials(), AWS_ACCESS_KEY_ID: 'nobody' });
    try {
      const err = await listBackups(unknown).catch((e) => e);
      expect(err.code).toBe('ACCESS_DENIED');
      expect(err.message).toContain('credentials refused (InvalidAccessKeyId)');
    } finally {
      await unknown.close();
    }
  });

  it('an unreachable target and a missing bucket are told apart', async () => {
    const port = await freePort('127.0.0.1');
    const down = openTarget(URL_, { ...minio.credentials(), AWS_ENDPOINTS: `http://127.0.0.1:${port}` });
    try {
      const t0 = Date.now();
      const err = await listBackups(down).catch((e) => e);
      expect(err.code).toBe('UNREACHABLE');
      expect(err.message).toMatch(
        /^backup target s3:\/\/backups@us-east-1\/store: unreachable \(ECONNREFUSED\)/,
      );
      expect(Date.now() - t0).toBeLessThan(15_000);
    } finally {
      await down.close();
    }
    const nobucket = openTarget('s3://nobucket@us-east-1/store', minio.credentials());
    try {
      const err = await listBackups(nobucket).catch((e) => e);
      expect(err.code).toBe('NOT_FOUND');
      expect(err.message).toContain('no bucket nobucket');
    } finally {
      await nobucket.close();
    }
  });
});
