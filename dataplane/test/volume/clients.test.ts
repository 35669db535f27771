import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalVolume, sh, sha256File } from './cli.js';

const MiB = 1 << 20;

describe('a 3-replica volume served to real NBD clients', () => {
  const vol = new LocalVolume();
  let uri = '';

  beforeAll(async () => {
    uri = await vol.up(3, '1GiB');
  }, 120_000);

  afterAll(async () => {
    await vol.down();
  }, 120_000);

  it('prints an NBD URI that nbdinfo reads: size and flags', async () => {
    expect(uri).toMatch(/^nbd:\/\/127\.0\.0\.\d+:\d+$/);
    const info = JSON.parse((await sh('nbdinfo', ['--json', uri])).stdout);
    const exp = info.exports[0];
    expect(exp['export-size']).toBe(1024 * MiB);
    expect(exp.can_flush).toBe(true);
    expect(exp.can_fua).toBe(true);
    expect(exp.can_trim).toBe(true);
    expect(exp.can_zero).toBe(true);
    expect(exp.can_multi_conn).toBe(true);
    expect(exp.is_read_only).toBe(false);
    expect(exp.block_size_preferred).toBe(4096);
  });

  it('nbdcopy a 256 MiB random image in and out with equal checksums', async () => {
    const img = join(vol.dir, 'in.img');
    const out = join(vol.dir, 'out.img');
    const data = randomBytes(256 * MiB);
    writeFileSync(img, data);
    await sh('nbdcopy', [img, uri]);
    await sh('nbdcopy', [uri, out]);
    const back = readFileSync(out);
    expect(back.length).toBe(1024 * MiB);
    expect(sha256File(back.subarray(0, 256 * MiB))).toBe(sha256File(data));
    expect(back.subarray(256 * MiB).equals(Buffer.alloc(768 * MiB))).toBe(true);
    rmSync(img);
    rmSync(out);
  }, 180_000);

  it('qemu-io writes and reads patterns at odd offsets and lengths', async () => {
    // Above the 256 MiB the nbdcopy test wrote, so untouched bytes must read as zeros.
    const base = 300 * MiB;
    const cases: [number, number, number][] = [
      [base + 1, 0x11, 1],
      [base + 4094, 0x22, 2],
      [base + 4097, 0x33, 8191],
      [base + 1_000_003, 0x44, 70_001],
      [1024 * MiB - 513, 0x55, 513],
    ];
    for (const [off, pat, len] of cases) {
      await sh('qemu-io', ['-f', 'raw', '-c', `write -P ${pat} ${off} ${len}`, uri]);
    }
    for (const [off, pat, len] of cases) {
      const { stdout } = await sh('qemu-io', ['-f', 'raw', '-c', `read -P ${pat} ${off} ${len}`, uri]);
      expect(stdout).not.toMatch(/Pattern verification failed/);
      expect(stdout).toMatch(/read \d+\/\d+ bytes/);
    }
    // A byte between two writes is untouched: base+4096 was never written, base+4095 and +4097 were.
    const { stdout } = await sh('qemu-io', ['-f', 'raw', '-c', `read -P 0 ${base + 4096} 1`, uri]);
    expect(stdout).not.toMatch(/Pattern verification failed/);
  });

  it('qemu-img compare sees the volume equal to a copy of itself and different after a write', async () => {
    const copy = join(vol.dir, 'copy.img');
    await sh('nbdcopy', [uri, copy]);
    await sh('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', copy, uri]);
    await sh('qemu-io', ['-f', 'raw', '-c', 'write -P 0x77 2000000 1000', uri]);
    await expect(sh('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', copy, uri])).rejects.toThrow(
      /mismatch|differ/i,
    );
    rmSync(copy);
  }, 120_000);

  it('snapshots, reverts, purges and expands through the CLI', async () => {
    await sh('qemu-io', ['-f', 'raw', '-c', 'write -P 0x61 0 65536', uri]);
    expect((await vol.cli('snapshot', 'create', '--name', 'before')).trim()).toBe('before');
    await sh('qemu-io', ['-f', 'raw', '-c', 'write -P 0x62 0 65536', uri]);
    const list = JSON.parse(await vol.cli('snapshot', 'list', '-o', 'json')) as {
      name: string;
      head: boolean;
    }[];
    expect(list.map((s) => s.name)).toContain('before');
    expect(list.at(-1)!.head).toBe(true);

    await vol.cli('snapshot', 'revert', 'before');
    const { stdout } = await sh('qemu-io', ['-f', 'raw', '-c', 'read -P 0x61 0 65536', uri]);
    expect(stdout).not.toMatch(/Pattern verification failed/);

    await expect(vol.cli('snapshot', 'revert', 'no-such-snap')).rejects.toThrow(/no-such-snap/);
    await expect(vol.cli('snapshot', 'create', '--name', '../evil')).rejects.toThrow(/invalid/);

    // A removed snapshot with a snapshot child is coalesced away by purge; one just behind the
    // head stays (its data is pruned where the head covers it), as in Longhorn.
    await vol.cli('snapshot', 'create', '--name', 'middle');
    await sh('qemu-io', ['-f', 'raw', '-c', 'write -P 0x64 65536 4096', uri]);
    await vol.cli('snapshot', 'create', '--name', 'newest');
    await vol.cli('snapshot', 'delete', 'middle');
    await vol.cli('snapshot', 'delete', 'newest');
    const purged = await vol.cli('snapshot', 'purge');
    expect(purged).toMatch(/middle/);
    const after = JSON.parse(await vol.cli('snapshot', 'list', '-o', 'json')) as {
      name: string;
      removed: boolean;
    }[];
    expect(after.map((s) => s.name)).not.toContain('middle');
    expect(after.find((s) => s.name === 'newest')?.removed).toBe(true);
    const { stdout: kept } = await sh('qemu-io', ['-f', 'raw', '-c', 'read -P 0x64 65536 4096', uri]);
    expect(kept).not.toMatch(/Pattern verification failed/);
    const { stdout: still } = await sh('qemu-io', ['-f', 'raw', '-c', 'read -P 0x61 0 65536', uri]);
    expect(still).not.toMatch(/Pattern verification failed/);

    await expect(vol.cli('expand', '--size', '512MiB')).rejects.toThrow(/shrink/);
    await vol.cli('expand', '--size', '2GiB');
    const info = JSON.parse((await sh('nbdinfo', ['--json', uri])).stdout);
    expect(info.exports[0]['export-size']).toBe(2048 * MiB);
    await sh('qemu-io', ['-f', 'raw', '-c', `write -P 0x63 ${2048 * MiB - 4096} 4096`, uri]);
    const { stdout: tail } = await sh('qemu-io', [
      '-f',
      'raw',
      '-c',
      `read -P 0x63 ${2048 * MiB - 4096} 4096`,
      uri,
    ]);
    expect(tail).not.toMatch(/Pattern verification failed/);
    const rows = await vol.replicas();
    expect(rows.map((r) => r.mode)).toEqual(['RW', 'RW', 'RW']);
  }, 120_000);
});
