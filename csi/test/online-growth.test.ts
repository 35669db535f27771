import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, statfs, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CsiError } from '../src/errors.js';
import { runCommand } from '../src/node/commands.js';
import {
  ext4FillsDevice,
  ext4Geometry,
  growExt4Offline,
  growFilesystem,
  makeFilesystem,
  mount,
  unmountAll,
} from '../src/node/filesystem-ops.js';
import { fuseHelperPath } from '../src/node/fuse-helper.js';
import { deviceSize, loopDevices } from '../src/node/loop-devices.js';
import { mountAt, mountTable } from '../src/node/mount-table.js';
import { NbdAttacher } from '../src/node/nbd-attach.js';
import { CAP_SYS_RESOURCE, hasEffectiveCapability } from '../src/node/process-capabilities.js';
import { pollUntil } from '../src/poll.js';

const MiB = 1024 * 1024;

describe('ext4 geometry and process capabilities (pure)', () => {
  it('reads block count and size from dumpe2fs -h and judges whether the device is filled', () => {
    const header =
      'Filesystem volume name:   <none>\nBlock count:              65536\nBlock size:               1024\n';
    expect(ext4Geometry(header)).toEqual({ blockCount: 65536, blockSize: 1024 });
    const g = { blockCount: 65536, blockSize: 1024 };
    expect(ext4FillsDevice(g, 64 * MiB)).toBe(true);
    expect(ext4FillsDevice(g, 64 * MiB + 1023)).toBe(true); // resize2fs stops at the last whole block
    expect(ext4FillsDevice(g, 64 * MiB + 1024)).toBe(false);
    expect(ext4FillsDevice(g, 128 * MiB)).toBe(false);
    expect(() => ext4Geometry('Block size: 4096\n')).toThrow(/dumpe2fs output has no "Block count" line/);
  });

  it('reads effective capabilities from /proc/<pid>/status', () => {
    const status = (eff: string) => `Name:\tnode\nCapPrm:\t000001ffffffffff\nCapEff:\t${eff}\n`;
    expect(hasEffectiveCapability(status('000001ffffffffff'), CAP_SYS_RESOURCE)).toBe(true);
    expect(hasEffectiveCapability(status('000001fffeffffff'), CAP_SYS_RESOURCE)).toBe(false);
    expect(hasEffectiveCapability(status('0000000001000000'), CAP_SYS_RESOURCE)).toBe(true);
    expect(hasEffectiveCapability(status('0000000000000000'), 0)).toBe(false);
    expect(hasEffectiveCapability('Name:\tx\n', CAP_SYS_RESOURCE)).toBe(false);
  });
});

describe('where the node plugin finds lh-nbdfuse', () => {
  it('LH_NBDFUSE first, then the binary cache when the binary is there, else PATH', async () => {
    const cache = await mkdtemp(join(tmpdir(), 'lh-csi-cache-'));
    try {
      expect(fuseHelperPath({ LH_NBDFUSE: '/opt/x/lh-nbdfuse', LONGHORN_TS_CACHE: cache })).toBe(
        '/opt/x/lh-nbdfuse',
      );
      expect(fuseHelperPath({ LONGHORN_TS_CACHE: cache })).toBe('lh-nbdfuse');
      await mkdir(join(cache, 'bin'));
      await writeFile(join(cache, 'bin', 'lh-nbdfuse'), '#!/bin/sh\n', { mode: 0o755 });
      expect(fuseHelperPath({ LONGHORN_TS_CACHE: cache })).toBe(join(cache, 'bin', 'lh-nbdfuse'));
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  });
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CsiError) return `${err.code}: ${err.message}`;
    throw err;
  }
  return 'OK';
}

async function fsBytes(path: string): Promise<number> {
  const s = await statfs(path);
  return s.blocks * s.bsize;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The node plugin's attach path on real parts: nbdkit's file plugin serves a file as the NBD
 * export (growing the file grows the export, as an engine's expand does), lh-nbdfuse + a loop
 * device make it a block device, mkfs/mount/resize2fs/xfs_growfs are the host's.
 */
describe('lh-nbdfuse and a loop device grow a mounted file system online', () => {
  let dir: string;
  let nbdkit: ChildProcess | undefined;
  let attacher: NbdAttacher;
  const disks = new Map<string, string>();
  const uris = new Map<string, string>();
  const mounts: string[] = [];
  const selfCanResizeExt4Online = hasEffectiveCapability(
    readFileSync('/proc/self/status', 'utf8'),
    CAP_SYS_RESOURCE,
  );

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lh-csi-grow-'));
    attacher = new NbdAttacher(join(dir, 'state'), pino({ level: 'silent' }));
    for (const [id, size] of [
      ['v-ext4', 64 * MiB],
      ['v-xfs', 320 * MiB],
      ['v-old', 16 * MiB],
    ] as const) {
      const disk = join(dir, `${id}.img`);
      await writeFile(disk, '');
      await truncate(disk, size);
      disks.set(id, disk);
    }
    // One nbdkit, one export per disk (file plugin's dir mode: export name = file name).
    const sock = join(dir, 'nbd.sock');
    nbdkit = spawn('nbdkit', ['-f', '--exit-with-parent', '-U', sock, 'file', `dir=${dir}`], {
      stdio: 'ignore',
    });
    await pollUntil('nbdkit to listen', 10_000, async () => existsSync(sock));
    for (const id of disks.keys()) uris.set(id, `nbd+unix:///${id}.img?socket=${sock}`);
  });

  afterAll(async () => {
    for (const m of mounts) await unmountAll(m).catch(() => undefined);
    for (const id of disks.keys()) await attacher.release(id).catch(() => undefined);
    if (nbdkit && nbdkit.exitCode === null) {
      const exited = new Promise((r) => nbdkit!.once('exit', r));
      nbdkit.kill();
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  async function mounted(id: string, fs: 'ext4' | 'xfs'): Promise<{ device: string; mnt: string }> {
    const device = await attacher.attach(id, uris.get(id)!);
    await makeFilesystem(fs, device, undefined);
    const mnt = join(dir, `mnt-${id}`);
    await mkdir(mnt, { recursive: true });
    await mount(device, mnt, fs, []);
    mounts.push(mnt);
    return { device, mnt };
  }

  it('ext4 64 MiB → 128 MiB: the device grows under the mount; the file system online where the kernel lets this process, else at the next mount; old data intact, new data past the old end reads back', async () => {
    const { device, mnt } = await mounted('v-ext4', 'ext4');
    const old = randomBytes(8 * MiB);
    await writeFile(join(mnt, 'old.bin'), old);
    const before = await fsBytes(mnt);
    expect(before).toBeLessThan(64 * MiB);

    await truncate(disks.get('v-ext4')!, 128 * MiB); // the engine grew
    const t0 = Date.now();
    expect(await attacher.grow('v-ext4', 128 * MiB)).toEqual({ device, sizeBytes: 128 * MiB });
    const growMs = Date.now() - t0;
    expect(await deviceSize(device)).toBe(128 * MiB);
    expect(await attacher.grow('v-ext4', 128 * MiB)).toEqual({ device, sizeBytes: 128 * MiB }); // idempotent
    expect((await mountAt(mnt))?.source).toBe(device);

    if (selfCanResizeExt4Online) {
      await growFilesystem('ext4', device, mnt);
    } else {
      expect(await codeOf(growFilesystem('ext4', device, mnt))).toMatch(
        /^FAILED_PRECONDITION: growing the mounted ext4 file system on \/dev\/loop\d+ needs CAP_SYS_RESOURCE, which the node plugin lacks; the device has grown/,
      );
      await unmountAll(mnt);
      expect(await growExt4Offline(device)).toBe(true);
      expect(await growExt4Offline(device)).toBe(false);
      await mount(device, mnt, 'ext4', []);
    }
    await growFilesystem('ext4', device, mnt); // a grown file system is nothing to do, capability or not
    const after = await fsBytes(mnt);
    expect(after).toBeGreaterThan(before + 56 * MiB);
    expect(sha(await readFile(join(mnt, 'old.bin')))).toBe(sha(old));
    // 80 MiB more cannot fit in the old 64 MiB.
    const fresh = randomBytes(80 * MiB);
    await writeFile(join(mnt, 'new.bin'), fresh);
    await runCommand('sync', []);
    await writeFile('/proc/sys/vm/drop_caches', '3');
    expect(sha(await readFile(join(mnt, 'new.bin')))).toBe(sha(fresh));
    expect(sha(await readFile(join(mnt, 'old.bin')))).toBe(sha(old));
    process.stdout.write(`[online-growth] ext4 export+loop grow ${growMs} ms\n`);
  });

  it('a size the export never reaches: DEADLINE_EXCEEDED in time, the device and its data untouched', async () => {
    const device = (await attacher.device('v-ext4'))!;
    const t0 = Date.now();
    expect(await codeOf(attacher.grow('v-ext4', 256 * MiB, 2_500))).toMatch(
      /^DEADLINE_EXCEEDED: timed out after 2500 ms waiting for volume v-ext4's export to reach 268435456 bytes/,
    );
    expect(Date.now() - t0).toBeLessThan(6_000);
    expect(await deviceSize(device)).toBe(128 * MiB);
    expect(await codeOf(attacher.grow('no-such-volume', MiB))).toBe(
      'NOT_FOUND: volume no-such-volume is not attached on this node',
    );
  });

  it('xfs 320 MiB → 640 MiB grows online, without an unmount, in any case', async () => {
    const { device, mnt } = await mounted('v-xfs', 'xfs');
    const old = randomBytes(16 * MiB);
    await writeFile(join(mnt, 'old.bin'), old);
    const before = await fsBytes(mnt);
    await truncate(disks.get('v-xfs')!, 640 * MiB);
    expect(await attacher.grow('v-xfs', 640 * MiB)).toEqual({ device, sizeBytes: 640 * MiB });
    await growFilesystem('xfs', device, mnt);
    await growFilesystem('xfs', device, mnt);
    expect((await mountAt(mnt))?.source).toBe(device);
    const after = await fsBytes(mnt);
    expect(after).toBeGreaterThan(before + 300 * MiB);
    const fresh = randomBytes(400 * MiB);
    await writeFile(join(mnt, 'new.bin'), fresh);
    await runCommand('sync', []);
    await writeFile('/proc/sys/vm/drop_caches', '3');
    expect(sha(await readFile(join(mnt, 'new.bin')))).toBe(sha(fresh));
    expect(sha(await readFile(join(mnt, 'old.bin')))).toBe(sha(old));
  });

  it('an attachment made by nbdfuse (an older node plugin) is refused growth, not killed by SIGHUP; release removes it', async () => {
    const p = attacher.paths('v-old');
    await mkdir(p.fuseDir, { recursive: true });
    const nbdfuse = spawn('nbdfuse', ['-P', p.pidFile, p.fuseDir, uris.get('v-old')!], {
      detached: true,
      stdio: 'ignore',
    });
    nbdfuse.unref();
    await pollUntil('nbdfuse to serve', 10_000, async () => existsSync(p.pidFile) && existsSync(p.file));
    const { stdout } = await runCommand('losetup', ['--find', '--show', p.file]);
    const device = stdout.trim();
    await truncate(disks.get('v-old')!, 32 * MiB);
    expect(await codeOf(attacher.grow('v-old', 32 * MiB))).toBe(
      'FAILED_PRECONDITION: volume v-old is attached through nbdfuse, which cannot grow: unstage and stage it again',
    );
    expect(alive(nbdfuse.pid!)).toBe(true);
    expect(await deviceSize(device)).toBe(16 * MiB);
    await attacher.release('v-old');
    expect(alive(nbdfuse.pid!)).toBe(false);
  });

  it('release after growth leaves no mount, loop device or helper process', async () => {
    const pids: number[] = [];
    for (const id of ['v-ext4', 'v-xfs'])
      pids.push(Number(await readFile(attacher.paths(id).pidFile, 'utf8')));
    for (const m of mounts) await unmountAll(m);
    for (const id of ['v-ext4', 'v-xfs']) await attacher.release(id);
    expect((await mountTable()).filter((m) => m.target.startsWith(dir))).toEqual([]);
    expect((await loopDevices()).filter((d) => d.backingFile.startsWith(dir))).toEqual([]);
    await pollUntil('the helpers to exit', 5_000, async () => pids.every((pid) => !alive(pid)));
    expect(existsSync(attacher.paths('v-ext4').dir)).toBe(false);
  });
});
