import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../wait-for.js';
import { LocalVolume, sh } from './cli.js';

const MiB = 1 << 20;
const SIZE = 64 * MiB;

/**
 * Zeroing while a replica rebuilds (issue 7, item 1; Longhorn #4354's class): the rebuilt
 * replica must read zeros where the volume was zeroed, not the data its rebuild copied below.
 */
describe('write-zeroes during a rebuild', () => {
  const vol = new LocalVolume();
  let uri = '';

  beforeAll(async () => {
    uri = await vol.up(2, '64MiB');
  }, 120_000);

  afterAll(async () => {
    await vol.down();
  }, 120_000);

  it('leaves every replica, the rebuilt one too, reading zeros where qemu-io zeroed', async () => {
    const qemuIo = (cmd: string) => sh('qemu-io', ['-f', 'raw', '-c', cmd, uri]);
    await qemuIo(`write -P 0xab 0 ${24 * MiB}`);
    await vol.cli('kill-replica', '--index', '1');
    await waitFor('replica 1 to be ERR', async () => (await vol.replicas())[1]?.mode === 'ERR', {
      timeoutMs: 30_000,
    });
    // A slow rebuild (2 MiB/s over 24 MiB of data), so the zeroing lands while it runs.
    await vol.cli('add-replica', '--background', '--bandwidth', String(2 * MiB));
    await waitFor(
      'the new replica to rebuild (WO)',
      async () => (await vol.replicas()).some((r) => r.mode === 'WO'),
      {
        timeoutMs: 30_000,
      },
    );
    await qemuIo(`write -z 0 ${8 * MiB}`); // aligned: WRITE_ZEROES
    await qemuIo(`write -z ${12 * MiB + 1000} ${2 * MiB}`); // unaligned edges
    await qemuIo(`write -z -u ${16 * MiB} ${1 * MiB}`); // may trim
    const during = await vol.replicas();
    expect(
      during.some((r) => r.mode === 'WO'),
      'the zeroing happened while the rebuild ran',
    ).toBe(true);
    await waitFor(
      'the rebuild to finish',
      async () => (await vol.replicas()).filter((r) => r.mode === 'RW').length === 2,
      { timeoutMs: 120_000, maxIntervalMs: 500 },
    );

    const expected = Buffer.alloc(SIZE);
    expected.fill(0xab, 0, 24 * MiB);
    expected.fill(0, 0, 8 * MiB);
    expected.fill(0, 12 * MiB + 1000, 14 * MiB + 1000);
    expected.fill(0, 16 * MiB, 17 * MiB);
    const want = createHash('sha256').update(expected).digest('hex');
    const rows = (await vol.replicas()).filter((r) => r.mode === 'RW');
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(await vol.replicaHash(row, SIZE), `replica ${row.id}`).toBe(want);
    // And through NBD, from whichever replica serves (round-robin: read twice).
    for (let i = 0; i < 2; i++) {
      const { stdout } = await qemuIo(`read -P 0 0 ${8 * MiB}`);
      expect(stdout).not.toMatch(/Pattern verification failed/);
    }
  }, 240_000);
});
