import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { blockChecksum } from '../../src/backup/block-codec.js';
import { deriveBlockKey } from '../../src/backup/block-crypto.js';
import { loadVolume } from '../../src/backup/config-store.js';
import { createBackup } from '../../src/backup/create-backup.js';
import { deleteBackup } from '../../src/backup/delete-backup.js';
import { blockPath, blocksDir, volumeCfgPath } from '../../src/backup/layout.js';
import { listBackups } from '../../src/backup/list-backups.js';
import { BackupLock, LOCK_DELETE } from '../../src/backup/lock.js';
import { restoreBackup } from '../../src/backup/restore-backup.js';
import { StoreSnapshotSource } from '../../src/backup/snapshot-source.js';
import { openTarget } from '../../src/backup/target-url.js';
import type { Replica } from '../../src/replica/index.js';
import { FAST_LOCKS, fileSink, MiB, newReplica, snapshotHash, TempDirs, writeAt } from './store-fixtures.js';

const dirs = new TempDirs();
afterAll(() => dirs.cleanup());

function storeBlocks(root: string, volume: string): string[] {
  const dir = join(root, blocksDir(volume));
  try {
    return readdirSync(dir, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.blk'));
  } catch {
    return [];
  }
}

async function restoreHash(root: string, volume: string, backup: string, size: number) {
  const target = openTarget(`vfs://${root}`);
  const out = join(dirs.make('lh-bk-out'), 'restored.img');
  const { sink, close } = await fileSink(out, size);
  const res = await restoreBackup({ target, volume, backup, sink, lockTiming: FAST_LOCKS });
  return { hash: await close(), res };
}

describe('backups to a directory target, from a replica read in-process', () => {
  let replica: Replica;
  const root = dirs.make('lh-bk-store');
  const target = openTarget(`vfs://${root}`);
  const size = 256 * MiB;
  let first = '';
  let second = '';

  afterAll(async () => {
    await replica?.close();
  });

  it('a full backup uploads each non-zero block once, skips zeros, and restores byte-identical', async () => {
    replica = await newReplica(dirs, size);
    await writeAt(replica, 0, randomBytes(250 * MiB));
    // Zeros written over data (allocated, but a zero block) and a block repeated at two offsets.
    await writeAt(replica, 20 * MiB, Buffer.alloc(2 * MiB));
    const twice = randomBytes(2 * MiB);
    await writeAt(replica, 40 * MiB, twice);
    await writeAt(replica, 60 * MiB, twice);
    await replica.snapshot('snap-1');
    const progress: number[] = [];
    const res = await createBackup({
      target,
      source: new StoreSnapshotSource(replica),
      volume: 'vol-a',
      snapshot: 'snap-1',
      lockTiming: FAST_LOCKS,
      onProgress: (p) => progress.push(p.percent),
    });
    first = res.backup.Name;
    expect(res.url).toBe(`vfs://${root}?backup=${first}&volume=vol-a`);
    expect(res.stats).toMatchObject({
      incremental: false,
      blocksRead: 125,
      blocksZero: 1,
      blocksUploaded: 123,
      blocksDeduplicated: 1,
    });
    expect(res.backup.Blocks).toHaveLength(124);
    expect(res.backup.Size).toBe(124 * 2 * MiB);
    expect(res.backup.Blocks.some((b) => b.Offset === 20 * MiB)).toBe(false);
    expect(storeBlocks(root, 'vol-a')).toHaveLength(123);
    expect(progress.at(-1)).toBe(100);
    const vol = await loadVolume(target, 'vol-a');
    expect(vol).toMatchObject({
      LastBackupName: first,
      Size: size,
      BlockCount: 123,
      CompressionMethod: 'lz4',
    });
    const { hash } = await restoreHash(root, 'vol-a', first, size);
    expect(hash).toBe(await snapshotHash(replica, 'snap-1'));
  });

  it('an incremental backup after a 1% change uploads at most 2% of the data and restores byte-identical', async () => {
    // 1% of 250 MiB of data: 2.5 MiB at an unaligned offset, spanning two blocks.
    await writeAt(replica, 101 * MiB, randomBytes(2.5 * MiB));
    await replica.snapshot('snap-2');
    const res = await createBackup({
      target,
      source: new StoreSnapshotSource(replica),
      volume: 'vol-a',
      snapshot: 'snap-2',
      lockTiming: FAST_LOCKS,
    });
    second = res.backup.Name;
    expect(res.stats).toMatchObject({ incremental: true, blocksRead: 2, blocksUploaded: 2 });
    expect(res.backup.IsIncremental).toBe(true);
    expect(res.backup.NewlyUploadedDataSize).toBeLessThanOrEqual(0.02 * 250 * MiB);
    // Known from the last backup's list and one HEAD per new block: the only LIST is the lock's.
    expect(res.stats.requests.list).toBe(1);
    expect(res.backup.Blocks).toHaveLength(124);
    const { hash } = await restoreHash(root, 'vol-a', second, size);
    expect(hash).toBe(await snapshotHash(replica, 'snap-2'));
    const { hash: old } = await restoreHash(root, 'vol-a', first, size);
    expect(old).toBe(await snapshotHash(replica, 'snap-1'));
  });

  it('the same snapshot again, or a full backup asked for, reads everything; full re-uploads', async () => {
    const again = await createBackup({
      target,
      source: new StoreSnapshotSource(replica),
      volume: 'vol-a',
      snapshot: 'snap-2',
      lockTiming: FAST_LOCKS,
    });
    expect(again.stats).toMatchObject({
      incremental: false,
      blocksRead: 125,
      blocksUploaded: 0,
      blocksDeduplicated: 124,
    });
    const full = await createBackup({
      target,
      source: new StoreSnapshotSource(replica),
      volume: 'vol-a',
      snapshot: 'snap-2',
      mode: 'full',
      lockTiming: FAST_LOCKS,
    });
    expect(full.stats).toMatchObject({ incremental: false, blocksUploaded: 0, blocksReuploaded: 123 });
    expect(full.backup.ReUploadedDataSize).toBeGreaterThan(123 * 2 * MiB);
    expect(full.backup.Parameters).toEqual({ 'backup-block-size': '2097152', 'backup-mode': 'full' });
    for (const b of [again, full])
      await deleteBackup({ target, volume: 'vol-a', backup: b.backup.Name, lockTiming: FAST_LOCKS });
  });

  it('lists the backups with state, sizes and URLs', async () => {
    const list = await listBackups(target);
    expect(list.map((b) => [b.volume, b.name, b.state, b.incremental, b.blocks])).toEqual(
      [
        ['vol-a', first, 'Completed', false, 124],
        ['vol-a', second, 'Completed', true, 124],
      ].sort((a, b) => String(a[1]).localeCompare(String(b[1]))),
    );
    expect(list[0]!.url).toMatch(new RegExp(`^vfs://${root}\\?backup=backup-[0-9a-f]{16}&volume=vol-a$`));
  });

  it('GC: deleting the first backup frees only the blocks the second no longer references', async () => {
    const before = new Set(storeBlocks(root, 'vol-a'));
    const res = await deleteBackup({ target, volume: 'vol-a', backup: first, lockTiming: FAST_LOCKS });
    expect(res).toEqual({ blocksDeleted: 2, blocksRetained: 123 });
    const after = new Set(storeBlocks(root, 'vol-a'));
    expect([...before].filter((b) => !after.has(b))).toHaveLength(2);
    const { hash } = await restoreHash(root, 'vol-a', second, size);
    expect(hash).toBe(await snapshotHash(replica, 'snap-2'));
    expect((await loadVolume(target, 'vol-a')).LastBackupName).toBe(second);
    const last = await deleteBackup({ target, volume: 'vol-a', backup: second, lockTiming: FAST_LOCKS });
    expect(last).toEqual({ blocksDeleted: 123, blocksRetained: 0 });
    expect(storeBlocks(root, 'vol-a')).toHaveLength(0);
    expect(await loadVolume(target, 'vol-a')).toMatchObject({
      LastBackupName: '',
      LastBackupAt: '',
      BlockCount: 0,
    });
    await expect(
      deleteBackup({ target, volume: 'vol-a', backup: second, lockTiming: FAST_LOCKS }),
    ).rejects.toThrow(/no backup backup-[0-9a-f]+ of volume vol-a/);
  });

  it('a last backed-up snapshot that is gone (reverted past) means a full backup', async () => {
    const r = await newReplica(dirs, 16 * MiB);
    try {
      await writeAt(r, 0, randomBytes(8 * MiB));
      await r.snapshot('s1');
      await createBackup({
        target,
        source: new StoreSnapshotSource(r),
        volume: 'vol-b',
        snapshot: 's1',
        lockTiming: FAST_LOCKS,
      });
      await r.revert('s1');
      await writeAt(r, 0, randomBytes(MiB));
      await r.snapshot('s2');
      await r.markRemoved('s1');
      await r.purge();
      const res = await createBackup({
        target,
        source: new StoreSnapshotSource(r),
        volume: 'vol-b',
        snapshot: 's2',
        lockTiming: FAST_LOCKS,
      });
      expect(res.stats.incremental).toBe(false);
      expect(res.stats.blocksRead).toBe(4);
      const { hash } = await restoreHash(root, 'vol-b', res.backup.Name, 16 * MiB);
      expect(hash).toBe(await snapshotHash(r, 's2'));
    } finally {
      await r.close();
    }
  });
});

describe('incremental restore (standby volumes)', () => {
  const root = dirs.make('lh-bk-dr');
  const target = openTarget(root);

  it('brings a restored copy from one backup to the next: changed blocks written, removed zeroed', async () => {
    const r = await newReplica(dirs, 16 * MiB);
    try {
      await writeAt(r, 0, randomBytes(10 * MiB));
      await r.snapshot('s1');
      const b1 = await createBackup({
        target,
        source: new StoreSnapshotSource(r),
        volume: 'vol-dr',
        snapshot: 's1',
        lockTiming: FAST_LOCKS,
      });
      await writeAt(r, 2 * MiB + 4096, randomBytes(8192));
      await writeAt(r, 4 * MiB, Buffer.alloc(2 * MiB));
      await writeAt(r, 12 * MiB, randomBytes(MiB));
      await r.snapshot('s2');
      const b2 = await createBackup({
        target,
        source: new StoreSnapshotSource(r),
        volume: 'vol-dr',
        snapshot: 's2',
        lockTiming: FAST_LOCKS,
      });
      const out = join(dirs.make('lh-bk-out'), 'standby.img');
      const { sink, close } = await fileSink(out, 16 * MiB);
      try {
        await restoreBackup({
          target,
          volume: 'vol-dr',
          backup: b1.backup.Name,
          sink,
          lockTiming: FAST_LOCKS,
        });
        const inc = await restoreBackup({
          target,
          volume: 'vol-dr',
          backup: b2.backup.Name,
          fromBackup: b1.backup.Name,
          sink,
          lockTiming: FAST_LOCKS,
        });
        // Two blocks written (the changed one, the new one), one zeroed.
        expect(inc.blocks).toBe(3);
        expect(inc.bytesDownloaded).toBeLessThan(4.1 * MiB);
      } finally {
        expect(await close()).toBe(await snapshotHash(r, 's2'));
      }
    } finally {
      await r.close();
    }
  });
});

describe('dedupe across volumes (Longhorn layout: blocks stay per volume)', () => {
  const root = dirs.make('lh-bk-cross');
  const target = openTarget(root);

  it("a volume's first backup links the blocks another volume holds instead of uploading them", async () => {
    const data = randomBytes(12 * MiB);
    const [x, y, z] = [
      await newReplica(dirs, 16 * MiB),
      await newReplica(dirs, 16 * MiB),
      await newReplica(dirs, 16 * MiB),
    ];
    try {
      for (const r of [x, y, z]) {
        await writeAt(r, 0, data);
        await r.snapshot('s');
      }
      await writeAt(y, 12 * MiB, randomBytes(2 * MiB));
      await y.snapshot('s2');
      const bx = await createBackup({
        target,
        source: new StoreSnapshotSource(x),
        volume: 'vol-x',
        snapshot: 's',
        lockTiming: FAST_LOCKS,
      });
      const by = await createBackup({
        target,
        source: new StoreSnapshotSource(y),
        volume: 'vol-y',
        snapshot: 's2',
        lockTiming: FAST_LOCKS,
      });
      expect(by.stats).toMatchObject({ blocksRead: 7, blocksCopied: 6, blocksUploaded: 1 });
      expect(by.stats.bytesUploaded).toBeLessThan(2.1 * MiB);
      expect(by.backup.NewlyUploadedDataSize).toBe(by.stats.bytesUploaded);
      expect((await loadVolume(target, 'vol-y')).BlockCount).toBe(7);
      // Hard links: one copy of the bytes on disk, a name in each volume's folder.
      const shared = bx.backup.Blocks[0]!.BlockChecksum;
      expect(statSync(join(root, blockPath('vol-y', shared))).nlink).toBe(2);
      // Another compression method's blocks would not decode: a gzip volume uploads its own.
      const bz = await createBackup({
        target,
        source: new StoreSnapshotSource(z),
        volume: 'vol-z',
        snapshot: 's',
        compression: 'gzip',
        lockTiming: FAST_LOCKS,
      });
      expect(bz.stats).toMatchObject({ blocksCopied: 0, blocksUploaded: 6 });
      // Each volume's GC is its own: deleting vol-x's backup leaves vol-y whole.
      expect(
        await deleteBackup({ target, volume: 'vol-x', backup: bx.backup.Name, lockTiming: FAST_LOCKS }),
      ).toEqual({
        blocksDeleted: 6,
        blocksRetained: 0,
      });
      expect(statSync(join(root, blockPath('vol-y', shared))).nlink).toBe(1);
      const { hash } = await restoreHash(root, 'vol-y', by.backup.Name, 16 * MiB);
      expect(hash).toBe(await snapshotHash(y, 's2'));
    } finally {
      for (const r of [x, y, z]) await r.close();
    }
  });
});

describe('encryption (AES-256-GCM per block, keyed block names)', () => {
  const root = dirs.make('lh-bk-crypt');
  const target = openTarget(root);
  const key = deriveBlockKey('correct horse battery staple');
  const text = 'a secret line of the volume '.repeat(80_000);

  it('round-trips, hides content and names, refuses a wrong or missing key and a tampered block', async () => {
    const r = await newReplica(dirs, 16 * MiB);
    try {
      await writeAt(r, 0, Buffer.from(text).subarray(0, 2 * MiB));
      await writeAt(r, 2 * MiB, randomBytes(4 * MiB));
      await r.snapshot('s1');
      const res = await createBackup({
        target,
        source: new StoreSnapshotSource(r),
        volume: 'vol-e',
        snapshot: 's1',
        encryptionKey: key,
        lockTiming: FAST_LOCKS,
      });
      expect(await loadVolume(target, 'vol-e')).toMatchObject({
        EncryptionMethod: 'aes-256-gcm',
        EncryptionKeyId: key.id,
      });
      const plainName = await blockChecksum(Buffer.from(text).subarray(0, 2 * MiB));
      const names = res.backup.Blocks.map((b) => b.BlockChecksum);
      expect(names).toHaveLength(3);
      expect(names).not.toContain(plainName);
      for (const f of storeBlocks(root, 'vol-e')) {
        const stored = readFileSync(join(root, blocksDir('vol-e'), f));
        expect(stored.includes('a secret line')).toBe(false);
        expect(stored.subarray(0, 4).toString('hex')).not.toBe('04224d18');
      }
      const restore = async (k?: ReturnType<typeof deriveBlockKey>) => {
        const out = join(dirs.make('lh-bk-out'), 'r.img');
        const { sink, close } = await fileSink(out, 16 * MiB);
        try {
          await restoreBackup({
            target,
            volume: 'vol-e',
            backup: res.backup.Name,
            sink,
            lockTiming: FAST_LOCKS,
            ...(k ? { encryptionKey: k } : {}),
          });
        } catch (err) {
          await close();
          throw err;
        }
        return close();
      };
      expect(await restore(key)).toBe(await snapshotHash(r, 's1'));
      const wrong = deriveBlockKey('not the right passphrase');
      const err = await restore(wrong).catch((e) => e);
      expect(err.code).toBe('ACCESS_DENIED');
      expect(err.message).toBe(
        `wrong encryption key for backup volume vol-e: it was encrypted with key ${key.id}, this key is ${wrong.id}`,
      );
      await expect(restore()).rejects.toThrow(
        'backup volume vol-e is encrypted (aes-256-gcm): give its key (CRYPTO_KEY_VALUE)',
      );
      await expect(
        createBackup({
          target,
          source: new StoreSnapshotSource(r),
          volume: 'vol-e',
          snapshot: 's1',
          lockTiming: FAST_LOCKS,
        }),
      ).rejects.toThrow(/vol-e is encrypted/);
      // Incremental with the key; then a plain volume refuses a key.
      await writeAt(r, 8 * MiB, randomBytes(4096));
      await r.snapshot('s2');
      const inc = await createBackup({
        target,
        source: new StoreSnapshotSource(r),
        volume: 'vol-e',
        snapshot: 's2',
        encryptionKey: key,
        lockTiming: FAST_LOCKS,
      });
      expect(inc.stats).toMatchObject({ incremental: true, blocksUploaded: 1 });
      await createBackup({
        target,
        source: new StoreSnapshotSource(r),
        volume: 'vol-plain',
        snapshot: 's1',
        lockTiming: FAST_LOCKS,
      });
      await expect(
        createBackup({
          target,
          source: new StoreSnapshotSource(r),
          volume: 'vol-plain',
          snapshot: 's2',
          encryptionKey: key,
          lockTiming: FAST_LOCKS,
        }),
      ).rejects.toThrow(/backup volume vol-plain is not encrypted/);
      // A block whose ciphertext was changed fails authentication and is named.
      const victim = join(root, blockPath('vol-e', names[0]!));
      const bytes = readFileSync(victim);
      bytes[40]! ^= 1;
      writeFileSync(victim, bytes);
      const bad = await restore(key).catch((e) => e);
      expect(bad.code).toBe('CORRUPT_BLOCK');
      expect(bad.message).toContain(`corrupt block ${names[0]} (`);
      expect(bad.message).toContain(`does not decrypt with key ${key.id}`);
    } finally {
      await r.close();
    }
  });

  it('refuses a short passphrase', () => {
    expect(() => deriveBlockKey('short')).toThrow(
      'the encryption passphrase must have at least 8 characters',
    );
  });
});

describe('compression methods', () => {
  const root = dirs.make('lh-bk-comp');
  const target = openTarget(root);
  const magic = { lz4: '04224d18', gzip: '1f8b', none: '' } as const;

  it.each(['lz4', 'gzip', 'none'] as const)(
    '%s: blocks in that format, cfgs say so, restore byte-identical',
    async (method) => {
      const r = await newReplica(dirs, 32 * MiB);
      try {
        await writeAt(r, 0, Buffer.from('compressible text '.repeat(2 * 1024 * 1024)).subarray(0, 16 * MiB));
        await writeAt(r, 16 * MiB, randomBytes(4 * MiB));
        await r.snapshot('s');
        const volume = `vol-${method}`;
        const res = await createBackup({
          target,
          source: new StoreSnapshotSource(r),
          volume,
          snapshot: 's',
          compression: method,
          lockTiming: FAST_LOCKS,
        });
        expect(res.backup.CompressionMethod).toBe(method);
        expect(readFileSync(join(root, volumeCfgPath(volume))).toString()).toContain(
          `"CompressionMethod":"\\"${method}\\""`,
        );
        const text = res.backup.Blocks[0]!;
        const stored = readFileSync(join(root, blockPath(volume, text.BlockChecksum)));
        expect(stored.subarray(0, 4).toString('hex').startsWith(magic[method])).toBe(true);
        if (method === 'none') expect(stored.length).toBe(2 * MiB);
        else expect(stored.length).toBeLessThan(MiB / 4);
        const { hash } = await restoreHash(root, volume, res.backup.Name, 32 * MiB);
        expect(hash).toBe(await snapshotHash(r, 's'));
      } finally {
        await r.close();
      }
    },
  );
});

describe('damage and refusals', () => {
  const root = dirs.make('lh-bk-bad');
  const target = openTarget(root);

  it('a corrupt block fails the restore naming the block; a missing one too', async () => {
    const r = await newReplica(dirs, 16 * MiB);
    let backup = '';
    try {
      await writeAt(r, 0, randomBytes(6 * MiB));
      await r.snapshot('s');
      backup = (
        await createBackup({
          target,
          source: new StoreSnapshotSource(r),
          volume: 'vol-c',
          snapshot: 's',
          lockTiming: FAST_LOCKS,
        })
      ).backup.Name;
    } finally {
      await r.close();
    }
    const [victim, gone] = storeBlocks(root, 'vol-c').map((f) => join(root, blocksDir('vol-c'), f));
    const bytes = readFileSync(victim!);
    bytes[bytes.length - 100]! ^= 0x5a;
    writeFileSync(victim!, bytes);
    const name = victim!.slice(victim!.lastIndexOf('/') + 1, -'.blk'.length);
    const err = await restoreHash(root, 'vol-c', backup, 16 * MiB).catch((e) => e);
    expect(err.code).toBe('CORRUPT_BLOCK');
    expect(err.message).toContain(`corrupt block ${name}`);
    expect(err.context.block).toBe(name);
    writeFileSync(victim!, Buffer.from('not a block'));
    const { rmSync } = await import('node:fs');
    rmSync(gone!);
    const err2 = await restoreHash(root, 'vol-c', backup, 16 * MiB).catch((e) => e);
    expect(err2.code).toBe('CORRUPT_BLOCK');
    expect(err2.message).toMatch(/(corrupt|missing) block [0-9a-f]{64}/);
    // The lock of the failed restores is gone: a deletion can take its lock.
    await deleteBackup({ target, volume: 'vol-c', backup, lockTiming: FAST_LOCKS });
  });

  it('a backup is refused while a deletion holds the lock (Longhorn timing), and leaves nothing behind', async () => {
    const r = await newReplica(dirs, 8 * MiB);
    try {
      await writeAt(r, 0, randomBytes(2 * MiB));
      await r.snapshot('s');
      await createBackup({
        target,
        source: new StoreSnapshotSource(r),
        volume: 'vol-d',
        snapshot: 's',
        lockTiming: FAST_LOCKS,
      });
      const del = await BackupLock.acquire(target, 'vol-d', LOCK_DELETE);
      const t0 = Date.now();
      const err = await createBackup({
        target,
        source: new StoreSnapshotSource(r),
        volume: 'vol-d',
        snapshot: 's',
      }).catch((e) => e);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(2000);
      await del.release();
      expect(err.code).toBe('BUSY');
      expect(err.message).toMatch(/backup volume vol-d is locked by lock-[0-9a-f]{16} \(a deletion\)/);
      expect(readdirSync(join(root, blocksDir('vol-d'), '..', 'locks'))).toEqual([]);
      expect((await listBackups(target, 'vol-d')).map((b) => b.state)).toEqual(['Completed']);
    } finally {
      await r.close();
    }
  });

  it('refuses bad arguments before touching the store', async () => {
    const r = await newReplica(dirs, 8 * MiB);
    try {
      await r.snapshot('s');
      const source = new StoreSnapshotSource(r);
      await expect(createBackup({ target, source, volume: 'bad/name', snapshot: 's' })).rejects.toThrow(
        /invalid volume name/,
      );
      await expect(
        createBackup({ target, source, volume: 'v1', snapshot: r.info().headName }),
      ).rejects.toThrow(/volume-head-\d+ is the head of volume v1, not a snapshot/);
      await expect(createBackup({ target, source, volume: 'v1', snapshot: 'nope' })).rejects.toThrow(
        /volume v1 has no snapshot nope/,
      );
      await expect(
        createBackup({ target, source, volume: 'v1', snapshot: 's', compression: 'zstd' as 'lz4' }),
      ).rejects.toThrow(/compression "zstd": expected lz4, gzip or none/);
      await expect(
        createBackup({ target, source, volume: 'v1', snapshot: 's', concurrency: 0 }),
      ).rejects.toThrow(/concurrency 0/);
      const missing = openTarget(join(root, 'does-not-exist'));
      await expect(createBackup({ target: missing, source, volume: 'v1', snapshot: 's' })).rejects.toThrow(
        /directory .*does-not-exist does not exist/,
      );
      expect(existsSync(join(root, volumeCfgPath('v1')))).toBe(false);
      expect((await listBackups(target)).some((b) => b.volume === 'v1')).toBe(false);
    } finally {
      await r.close();
    }
  });
});
