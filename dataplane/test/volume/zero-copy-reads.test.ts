import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IoCounters } from '../../src/frontend/io-stats-device.js';
import { LocalVolume, sh } from './cli.js';

const MiB = 1 << 20;
const SIZE = 64 * MiB;

/**
 * Large reads of a volume whose local replica holds them in the page cache leave the engine by
 * sendfile, without a copy (issue 13's 1 MiB read row). Through real NBD clients: the bytes
 * must be the volume's across layers and holes, and `volume info` must show the path was taken.
 */
describe('zero-copy reads through longhorn-local', () => {
  const vol = new LocalVolume();
  let uri = '';
  const expected = Buffer.alloc(SIZE);
  const io = async () => (JSON.parse(await vol.cli('info', '-o', 'json')) as { io: IoCounters }).io;
  /** The whole volume through nbdcopy, in requests of `requestSize` bytes. */
  const readAll = async (requestSize = 32 * MiB) => {
    const out = join(vol.dir, 'read-back.img');
    await sh('nbdcopy', [`--request-size=${requestSize}`, uri, out]);
    return readFileSync(out);
  };

  beforeAll(async () => {
    uri = await vol.up(2, '64MiB');
  }, 120_000);

  afterAll(async () => {
    await vol.down();
  }, 120_000);

  it('reads back what was written, mostly without copies', async () => {
    // 40 MiB of random data, the rest of the volume a hole.
    randomBytes(40 * MiB).copy(expected);
    const src = join(vol.dir, 'src.img');
    writeFileSync(src, expected);
    await sh('nbdcopy', [src, uri]);
    const before = await io();
    expect((await readAll()).equals(expected)).toBe(true);
    const after = await io();
    // Requests over data the page cache holds are spans; the hole has no file to send from,
    // and is copied as zeros (nbdcopy may also skip it: it asks for the allocation first).
    expect(after.zeroCopyReads - before.zeroCopyReads).toBeGreaterThan(0);
    expect(after.readOps - before.readOps).toBeGreaterThan(after.zeroCopyReads - before.zeroCopyReads);
    const text = await vol.cli('info');
    expect(text).toMatch(/I\/O since the engine started: \d+ reads \(\d+ sent without a copy\), \d+ writes/);
  }, 60_000);

  it('serves each range from the layer that holds it after a snapshot and an overwrite', async () => {
    await vol.cli('snapshot', 'create', '--name', 'zc1');
    // Overwrite 1 MiB straddling two of qemu-io's aligned windows, plus an unaligned piece.
    await sh('qemu-io', ['-f', 'raw', '-c', `write -P 0x77 ${3 * MiB + 512 * 1024} ${MiB}`, uri]);
    await sh('qemu-io', ['-f', 'raw', '-c', `write -P 0x66 ${20 * MiB + 1000} 5000`, uri]);
    expected.fill(0x77, 3 * MiB + 512 * 1024, 4 * MiB + 512 * 1024);
    expected.fill(0x66, 20 * MiB + 1000, 20 * MiB + 6000);
    const before = await io();
    for (const size of [64 * 1024, MiB, 4 * MiB, 32 * MiB]) {
      expect((await readAll(size)).equals(expected), `read back in ${size}-byte requests`).toBe(true);
    }
    const after = await io();
    expect(after.zeroCopyReads - before.zeroCopyReads).toBeGreaterThan(0);
  }, 60_000);

  it('reads held back by a QoS read limit are copied, and the limit still holds', async () => {
    await vol.cli('qos', '--read-bandwidth-limit', String(16 * MiB));
    try {
      const before = await io();
      const t0 = performance.now();
      expect((await readAll(MiB)).equals(expected)).toBe(true);
      const seconds = (performance.now() - t0) / 1000;
      const after = await io();
      expect(after.zeroCopyReads).toBe(before.zeroCopyReads);
      expect(after.readBytes - before.readBytes).toBe(SIZE);
      // 64 MiB in 1 MiB reads at 16 MiB/s: after the burst allowance (one second's worth), 47
      // more must wait their turn.
      expect(seconds).toBeGreaterThan(2.5);
    } finally {
      await vol.cli('qos', '--read-bandwidth-limit', 'unlimited');
    }
  }, 60_000);

  it('fio verify with 64 KiB-1 MiB blocks stays intact while snapshots are taken, deleted and purged', async () => {
    const before = await io();
    const fio = sh('fio', [
      '--name=spans',
      '--ioengine=nbd',
      `--uri=${uri}`,
      '--rw=randwrite',
      '--bsrange=64k-1m',
      '--iodepth=16',
      '--size=48M',
      '--runtime=6',
      '--time_based',
      '--verify=crc32c',
      '--verify_fatal=1',
      '--do_verify=1',
      '--verify_backlog=32',
      '--verify_state_save=0',
    ]);
    let stopped = false;
    const changes = (async () => {
      let i = 0;
      let made = 0;
      while (!stopped) {
        // Layers come and go under the reads: a snapshot per round, the one before last
        // deleted, and its data folded into its child by a purge.
        await vol.cli('snapshot', 'create', '--name', `zc-load-${i}`);
        made++;
        if (i >= 1) await vol.cli('snapshot', 'delete', `zc-load-${i - 1}`);
        if (i % 2 === 1) await vol.cli('snapshot', 'purge');
        i++;
      }
      return made;
    })();
    let out: { stdout: string; stderr: string };
    try {
      out = await fio;
    } finally {
      stopped = true;
    }
    const made = await changes;
    expect(out.stderr).not.toMatch(/verify|bad magic|crc32c/i);
    expect(made).toBeGreaterThanOrEqual(3);
    expect((await io()).zeroCopyReads - before.zeroCopyReads).toBeGreaterThan(0);
  }, 120_000);
});
