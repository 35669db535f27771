import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  backupCfgPath,
  blockPath,
  lockPath,
  openTarget,
  volumeCfgPath,
  volumeDir,
} from '@longhorn-ts/dataplane/backup/index';
import { afterEach, describe, expect, it } from 'vitest';
import { deleteBackupVolume, removalOrder } from '../../src/backup/delete-backup-volume.js';

const FAST_LOCKS = { settleMs: 10, refreshMs: 60_000, expiryMs: 150_000 };
const C = 'a'.repeat(64);

describe('deleteBackupVolume', () => {
  let dir = '';
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('removes cfgs and blocks before volume.cfg, and never the locks', () => {
    const d = volumeDir('vol');
    expect(
      removalOrder(
        d,
        ['volume.cfg', 'blocks/aa/aa/x.blk', 'locks/lock-1.lck', 'backups/backup_b.cfg'],
        `${d}/locks`,
      ),
    ).toEqual(['backups/backup_b.cfg', 'blocks/aa/aa/x.blk', 'volume.cfg']);
  });

  it('deletes every object of one volume in a directory store and leaves the others', async () => {
    dir = await mkdtemp(join(tmpdir(), 'lh-op-bv-'));
    const store = openTarget(dir);
    for (const v of ['v1', 'v2']) {
      await store.put(volumeCfgPath(v), Buffer.from('{}'));
      await store.put(backupCfgPath(v, 'backup-1'), Buffer.from('{}'));
      await store.put(blockPath(v, C), Buffer.from('x'));
    }
    const r = await deleteBackupVolume(store, 'v1', { lockTiming: FAST_LOCKS });
    expect(r.objectsDeleted).toBe(3);
    expect(await store.listAll(volumeDir('v1'))).toEqual([]);
    expect((await store.listAll(volumeDir('v2'))).sort()).toEqual([
      'backups/backup_backup-1.cfg',
      `blocks/aa/aa/${C}.blk`,
      'volume.cfg',
    ]);
    await store.close();
  });

  it('is refused (BUSY) while a backup holds the volume', async () => {
    dir = await mkdtemp(join(tmpdir(), 'lh-op-bv-'));
    const store = openTarget(dir);
    await store.put(volumeCfgPath('v1'), Buffer.from('{}'));
    await store.put(
      lockPath('v1', 'lock-0000000000000000'),
      Buffer.from(JSON.stringify({ Name: 'lock-0000000000000000', Type: 1, Acquired: true })),
    );
    await expect(deleteBackupVolume(store, 'v1', { lockTiming: FAST_LOCKS })).rejects.toMatchObject({
      code: 'BUSY',
    });
    expect(await store.exists(volumeCfgPath('v1'))).toBe(true);
    await store.close();
  });
});
