import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
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
import { longhornLocal } from '../volume/cli.js';
import { NfsServer } from './nfs-server.js';
import { FAST_LOCKS, fileSink, MiB, newReplica, snapshotHash, TempDirs, writeAt } from './store-fixtures.js';

const dirs = new TempDirs();
const nfs = new NfsServer();

beforeAll(() => nfs.start(), 60_000);
afterAll(async () => {
  await nfs.stop();
  dirs.cleanup();
});

/** Every file under `dir` of the export, relative, as the server's disk holds them. */
function filesOnServer(dir: string): string[] {
  const root = join(nfs.exportDir, dir);
  if (!existsSync(root)) return [];
  return (readdirSync(root, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(root.length + 1));
}

async function restoreHash(volume: string, backup: string, size: number): Promise<string> {
  const target = openTarget(nfs.url);
  try {
    const { sink, close } = await fileSink(join(dirs.make('lh-nfs-out'), 'r.img'), size);
    await restoreBackup({ target, volume, backup, sink, lockTiming: FAST_LOCKS });
    return await close();
  } finally {
    await target.close();
  }
}

describe('backups to a real NFS server (NFS-Ganesha, NFSv3 through libnfs in user space)', () => {
  let replica: Replica;
  const size = 32 * MiB;
  let first = '';

  afterAll(async () => {
    await replica?.close();
  });

  it("a full backup lands in Longhorn's layout on the server's disk and restores byte-identical", async () => {
    replica = await newReplica(dirs, size);
    await writeAt(replica, 0, randomBytes(20 * MiB));
    await replica.snapshot('s1');
    const target = openTarget(nfs.url);
    try {
      expect(target.kind).toBe('nfs');
      const res = await createBackup({
        target,
        source: new StoreSnapshotSource(replica),
        volume: 'pvc-nfs',
        snapshot: 's1',
        lockTiming: FAST_LOCKS,
      });
      first = res.backup.Name;
      // Longhorn's backup URL: the target's with backup and volume, parameters sorted by key.
      const [base, query] = nfs.url.split('?') as [string, string];
      const ports = Object.fromEntries(new URLSearchParams(query));
      expect(res.url).toBe(
        `${base}?backup=${first}&mountport=${ports.mountport}&nfsport=${ports.nfsport}&volume=pvc-nfs`,
      );
      expect(res.stats).toMatchObject({ blocksRead: 10, blocksUploaded: 10 });
    } finally {
      await target.close();
    }
    // What the server stored: the volume.cfg and 10 blocks, no temporary file left.
    const cfg = JSON.parse(readFileSync(join(nfs.exportDir, volumeCfgPath('pvc-nfs')), 'utf8'));
    expect(cfg).toMatchObject({ Name: 'pvc-nfs', Size: String(size), LastBackupName: first });
    const files = filesOnServer('backupstore');
    expect(files.filter((f) => f.endsWith('.blk'))).toHaveLength(10);
    expect(files.filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(await restoreHash('pvc-nfs', first, size)).toBe(await snapshotHash(replica, 's1'));
  });

  it('an incremental backup writes the changed block only; delete collects only unreferenced blocks', async () => {
    await writeAt(replica, 4 * MiB, randomBytes(4096));
    await replica.snapshot('s2');
    const target = openTarget(nfs.url);
    try {
      const res = await createBackup({
        target,
        source: new StoreSnapshotSource(replica),
        volume: 'pvc-nfs',
        snapshot: 's2',
        lockTiming: FAST_LOCKS,
      });
      expect(res.stats).toMatchObject({ incremental: true, blocksRead: 1, blocksUploaded: 1 });
      expect((await listBackups(target)).map((b) => [b.volume, b.state])).toEqual([
        ['pvc-nfs', 'Completed'],
        ['pvc-nfs', 'Completed'],
      ]);
      expect(filesOnServer('backupstore').filter((f) => f.endsWith('.blk'))).toHaveLength(11);
      const del = await deleteBackup({ target, volume: 'pvc-nfs', backup: first, lockTiming: FAST_LOCKS });
      expect(del).toEqual({ blocksDeleted: 1, blocksRetained: 10 });
      expect(filesOnServer('backupstore').filter((f) => f.endsWith('.blk'))).toHaveLength(10);
      expect(await restoreHash('pvc-nfs', res.backup.Name, size)).toBe(await snapshotHash(replica, 's2'));
    } finally {
      await target.close();
    }
  });

  it("a second volume's first backup hard-links the blocks the first holds on the server", async () => {
    const twin = await newReplica(dirs, size);
    const target = openTarget(nfs.url);
    try {
      await writeAt(twin, 0, await replica.readSnapshot('s2', 0, 20 * MiB));
      await twin.snapshot('t1');
      const res = await createBackup({
        target,
        source: new StoreSnapshotSource(twin),
        volume: 'pvc-nfs-twin',
        snapshot: 't1',
        lockTiming: FAST_LOCKS,
      });
      expect(res.stats).toMatchObject({ blocksRead: 10, blocksCopied: 10, blocksUploaded: 0 });
      const twinBlocks = filesOnServer('backupstore').filter(
        (f) => f.includes('/pvc-nfs-twin/') && f.endsWith('.blk'),
      );
      expect(twinBlocks).toHaveLength(10);
      // The same inode as the first volume's block: no bytes were copied.
      for (const b of twinBlocks) expect(statSync(join(nfs.exportDir, 'backupstore', b)).nlink).toBe(2);
      expect(await restoreHash('pvc-nfs-twin', res.backup.Name, size)).toBe(await snapshotHash(twin, 't1'));
    } finally {
      await target.close();
      await twin.close();
    }
  });

  it('longhorn-local lists the NFS store (the user path)', async () => {
    const rows = JSON.parse(await longhornLocal('backup', 'list', '--target', nfs.url, '-o', 'json')) as {
      volume: string;
      state: string;
    }[];
    expect(rows.map((r) => r.volume).sort()).toEqual(['pvc-nfs', 'pvc-nfs-twin']);
    expect(rows.every((r) => r.state === 'Completed')).toBe(true);
  });

  it('an unreachable server, a missing export and a missing helper give clear errors', async () => {
    const port = await freePort('127.0.0.1');
    const down = openTarget(`nfs://127.0.0.1:/export?nfsport=${port}&mountport=${port}`);
    try {
      const err = await listBackups(down).catch((e) => e);
      expect(err.code).toBe('UNREACHABLE');
      expect(err.message).toMatch(
        /^backup target nfs:\/\/127\.0\.0\.1:\/export\?nfsport=\d+&mountport=\d+ mount: /,
      );
    } finally {
      await down.close();
    }
    const missing = openTarget(nfs.url.replace(nfs.exportDir, '/no/such/export'));
    try {
      const err = await listBackups(missing).catch((e) => e);
      expect(['NOT_FOUND', 'ACCESS_DENIED']).toContain(err.code);
      expect(err.message).toContain('/no/such/export');
    } finally {
      await missing.close();
    }
    const { NfsTarget } = await import('../../src/backup/nfs-target.js');
    const noHelper = new NfsTarget(nfs.url, { helper: '/nonexistent/lh-nfs' });
    try {
      const err = await listBackups(noHelper).catch((e) => e);
      expect(err.code).toBe('UNREACHABLE');
      expect(err.message).toContain('cannot run /nonexistent/lh-nfs');
      expect(err.message).toContain('scripts/setup.sh');
    } finally {
      await noHelper.close();
    }
  });
});
