import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BlockDevice } from '../../src/block/index.js';
import { NbdServer } from '../../src/frontend/nbd/index.js';
import { FileBlockDevice } from './file-block-device.js';
import { MemoryBlockDevice } from './memory-device.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Real NBD clients nobody here wrote: libnbd tools, qemu, fio. */
describe('NBD server with real clients', () => {
  let dir: string;
  let device: MemoryBlockDevice;
  let server: NbdServer;
  let uri: string;
  let port: number;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nbd-test-'));
    device = new MemoryBlockDevice(64 * MiB);
    server = new NbdServer({ exports: new Map<string, BlockDevice>([['', device]]) });
    ({ port } = await server.listenTcp('127.0.0.1', 0));
    uri = `nbd://127.0.0.1:${port}/`;
  });

  afterEach(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('nbdinfo shows size, flags and block sizes', async () => {
    const { stdout } = await run('nbdinfo', ['--json', uri], { timeout: 10_000 });
    const info = JSON.parse(stdout);
    expect(info.protocol).toBe('newstyle-fixed');
    expect(info.exports).toHaveLength(1);
    expect(info.exports[0]).toMatchObject({
      'export-size': 64 * MiB,
      is_read_only: false,
      can_flush: true,
      can_fua: true,
      can_trim: true,
      can_zero: true,
      can_multi_conn: true,
      block_size_minimum: 1,
      block_size_preferred: 4096,
      block_size_maximum: 32 * MiB,
    });
  });

  it('nbdcopy copies a random 64 MiB image in and out unchanged, and qemu-img compare agrees', async () => {
    const image = randomBytes(64 * MiB);
    const source = join(dir, 'in.img');
    const target = join(dir, 'out.img');
    await writeFile(source, image);
    await run('nbdcopy', [source, uri], { timeout: 30_000 });
    expect(sha256(device.data)).toBe(sha256(image));
    await run('nbdcopy', [uri, target], { timeout: 30_000 });
    expect(sha256(await readFile(target))).toBe(sha256(image));
    await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', source, uri], { timeout: 30_000 });
    // And it notices a difference.
    device.data.writeUInt8(device.data.readUInt8(12_345_678) ^ 1, 12_345_678);
    await expect(run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', source, uri])).rejects.toThrow();
  });

  it('qemu-io writes and reads patterns at odd offsets and lengths', async () => {
    const ops: [number, number, number][] = [
      [0x11, 1, 511],
      [0x22, 4095, 4098],
      [0x33, 1_000_003, 70_001],
      [0x44, 64 * MiB - 777, 777],
      [0x55, 5 * MiB + 3, 3 * MiB + 5],
    ];
    const args = ['-f', 'raw', uri];
    for (const [p, off, len] of ops) args.push('-c', `write -P ${p} ${off} ${len}`);
    for (const [p, off, len] of ops) args.push('-c', `read -P ${p} ${off} ${len}`);
    args.push('-c', 'write -z 4095 2', '-c', 'read -P 0 4095 2', '-c', 'discard 5242883 4096', '-c', 'flush');
    const { stdout } = await run('qemu-io', args, { timeout: 30_000 });
    expect(stdout).not.toMatch(/fail|error/i);
    for (const [p, off, len] of ops.slice(2)) {
      const bytes = device.data.subarray(off, off + len);
      const discarded = p === 0x55 ? 4096 : 0;
      expect(bytes.subarray(discarded).every((b) => b === p)).toBe(true);
    }
    expect(device.data.subarray(5 * MiB + 3, 5 * MiB + 3 + 4096).every((b) => b === 0)).toBe(true);
    expect(device.data[0]).toBe(0);
    expect(device.data[1]).toBe(0x11);
    expect(device.flushes).toBeGreaterThan(0);
  });

  it('serves several clients at once, each its own region', async () => {
    const clients = [0, 1, 2, 3].map((i) =>
      run(
        'qemu-io',
        [
          '-f',
          'raw',
          uri,
          '-c',
          `write -P ${0x60 + i} ${i * 8 * MiB + 17} ${4 * MiB}`,
          '-c',
          `read -P ${0x60 + i} ${i * 8 * MiB + 17} ${4 * MiB}`,
        ],
        { timeout: 30_000 },
      ),
    );
    const results = await Promise.all(clients);
    for (const { stdout } of results) expect(stdout).not.toMatch(/fail|error/i);
    for (let i = 0; i < 4; i++) {
      const region = device.data.subarray(i * 8 * MiB + 17, i * 8 * MiB + 17 + 4 * MiB);
      expect(region.every((b) => b === 0x60 + i)).toBe(true);
    }
  });

  it('lists several named exports, each reachable by name', async () => {
    const small = new MemoryBlockDevice(MiB);
    const named = new NbdServer({
      exports: new Map<string, BlockDevice>([
        ['vol-a', device],
        ['vol-b', small],
      ]),
      descriptions: new Map([['vol-b', 'the small one']]),
    });
    try {
      const { port: namedPort } = await named.listenTcp('127.0.0.1', 0);
      const { stdout } = await run('nbdinfo', ['--list', '--json', `nbd://127.0.0.1:${namedPort}`], {
        timeout: 10_000,
      });
      const exports = JSON.parse(stdout).exports as { 'export-name': string; 'export-size': number }[];
      expect(exports.map((e) => [e['export-name'], e['export-size']])).toEqual([
        ['vol-a', 64 * MiB],
        ['vol-b', MiB],
      ]);
      const size = await run('nbdinfo', ['--size', `nbd://127.0.0.1:${namedPort}/vol-b`], {
        timeout: 10_000,
      });
      expect(Number(size.stdout.trim())).toBe(MiB);
      await expect(run('nbdinfo', ['--size', `nbd://127.0.0.1:${namedPort}/nope`])).rejects.toThrow();
    } finally {
      await named.close();
    }
  });

  it('serves over a Unix socket', async () => {
    const path = join(dir, 'nbd.sock');
    await server.listenUnix(path);
    const { stdout } = await run('nbdinfo', ['--size', `nbd+unix:///?socket=${path}`], { timeout: 10_000 });
    expect(Number(stdout.trim())).toBe(64 * MiB);
  });

  it('passes fio verify (crc32c) through its nbd engine, backed by a file', async () => {
    const file = await FileBlockDevice.open(join(dir, 'backing.img'), 32 * MiB);
    const fileServer = new NbdServer({ exports: new Map<string, BlockDevice>([['', file]]) });
    try {
      const { port: filePort } = await fileServer.listenTcp('127.0.0.1', 0);
      const { stdout } = await run(
        'fio',
        [
          '--name=verify',
          '--ioengine=nbd',
          `--uri=nbd://127.0.0.1:${filePort}/`,
          '--rw=randwrite',
          '--bsrange=512-128k',
          '--iodepth=16',
          '--size=32m',
          '--verify=crc32c',
          '--do_verify=1',
          '--verify_state_save=0',
          '--output-format=json',
        ],
        { timeout: 30_000 },
      );
      const job = JSON.parse(stdout.slice(stdout.indexOf('{'))).jobs[0];
      expect(job.error).toBe(0);
      expect(job.write.io_bytes).toBeGreaterThan(0);
      expect(job.read.io_bytes).toBeGreaterThan(0);
    } finally {
      await fileServer.close();
      await file.close();
    }
  });
});
