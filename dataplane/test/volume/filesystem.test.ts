import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../wait-for.js';
import { LocalVolume, sh } from './cli.js';

/**
 * A real file system on the volume: nbdfuse exposes the NBD export as a file, a loop device
 * turns it into a block device, ext4 goes on it. Everything made here is released in afterAll.
 */
describe('ext4 on a replicated volume through nbdfuse and a loop device', () => {
  const vol = new LocalVolume();
  const fuseDir = join(vol.dir, 'fuse');
  const mnt = join(vol.dir, 'mnt');
  const pidFile = join(vol.dir, 'nbdfuse.pid');
  let nbdfuse: ChildProcess | null = null;
  let loop = '';
  let mounted = false;

  beforeAll(async () => {
    const uri = await vol.up(3, '512MiB');
    mkdirSync(fuseDir);
    mkdirSync(mnt);
    // nbdfuse stays in the foreground and writes its pid file once the FUSE mount serves.
    nbdfuse = spawn('nbdfuse', ['-P', pidFile, fuseDir, uri], { stdio: 'ignore' });
    await waitFor('nbdfuse to expose the volume', () => existsSync(pidFile), { timeoutMs: 20_000 });
    expect(existsSync(join(fuseDir, 'nbd'))).toBe(true);
    loop = (await sh('losetup', ['-f', '--show', '--direct-io=off', join(fuseDir, 'nbd')])).stdout.trim();
  }, 120_000);

  afterAll(async () => {
    if (mounted) await sh('umount', [mnt]).catch(() => sh('umount', ['-l', mnt]));
    if (loop) await sh('losetup', ['-d', loop]).catch(() => {});
    await sh('fusermount3', ['-u', fuseDir]).catch(() => {});
    if (nbdfuse && nbdfuse.exitCode === null) {
      const exited = new Promise((r) => nbdfuse!.once('exit', r));
      nbdfuse.kill('SIGTERM');
      await exited;
    }
    await vol.down();
  }, 120_000);

  it('mkfs, write, fsync, unmount, fsck clean, mount again and read the same files', async () => {
    expect(loop).toMatch(/^\/dev\/loop\d+$/);
    await sh('mkfs.ext4', ['-q', '-F', loop]);
    await sh('mount', [loop, mnt]);
    mounted = true;
    const files = new Map<string, Buffer>();
    for (let i = 0; i < 20; i++) {
      const data = randomBytes(1000 + i * 37_001);
      files.set(`f${i}.bin`, data);
      writeFileSync(join(mnt, `f${i}.bin`), data);
    }
    mkdirSync(join(mnt, 'dir'));
    writeFileSync(join(mnt, 'dir', 'note.txt'), 'replicated');
    await sh('sync', ['-f', mnt]);
    await sh('umount', [mnt]);
    mounted = false;

    const fsck = await sh('e2fsck', ['-f', '-n', loop]);
    expect(fsck.stdout).toMatch(/Pass 5/);
    expect(fsck.stdout).toMatch(/\d+\/\d+ files/);

    // Drop the loop device's cache so the second mount reads through NBD again.
    await sh('blockdev', ['--flushbufs', loop]);
    await sh('mount', [loop, mnt]);
    mounted = true;
    for (const [name, data] of files) expect(readFileSync(join(mnt, name)).equals(data), name).toBe(true);
    expect(readFileSync(join(mnt, 'dir', 'note.txt'), 'utf8')).toBe('replicated');
    const rows = await vol.replicas();
    expect(rows.map((r) => r.mode)).toEqual(['RW', 'RW', 'RW']);
  }, 180_000);
});
