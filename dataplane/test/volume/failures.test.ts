import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalVolume } from './cli.js';

const MiB = 1 << 20;
const SIZE = 256 * MiB;

interface FioResult {
  code: number | null;
  out: string;
}

/** fio writing with crc32c verification through the nbd engine, for `seconds`. */
function startFio(uri: string, seconds: number): { child: ChildProcess; done: Promise<FioResult> } {
  const child = spawn(
    'fio',
    [
      '--name=verify',
      '--ioengine=nbd',
      `--uri=${uri}`,
      '--rw=randwrite',
      '--bs=4k',
      '--iodepth=16',
      `--size=${SIZE}`,
      `--runtime=${seconds}`,
      '--time_based',
      '--verify=crc32c',
      '--verify_fatal=1',
      '--do_verify=1',
      '--verify_backlog=256',
      '--verify_state_save=0',
      '--output-format=json',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    out += d;
  });
  const done = new Promise<FioResult>((resolve) => child.on('close', (code) => resolve({ code, out })));
  return { child, done };
}

describe('a volume under fio load loses replicas and rebuilds them', () => {
  const vol = new LocalVolume();
  let uri = '';
  let fio: { child: ChildProcess; done: Promise<FioResult> } | null = null;

  beforeAll(async () => {
    uri = await vol.up(3, '256MiB');
  }, 120_000);

  afterAll(async () => {
    fio?.child.kill('SIGKILL');
    await vol.down();
  }, 120_000);

  it('keeps serving with zero verify errors through two kills and two rebuilds', async () => {
    // fio runs until we stop it with SIGINT after both rebuilds, so slow machines still test
    // the rebuilds under load; fio then verifies and reports as usual.
    fio = startFio(uri, 900);
    const modes = async () => (await vol.replicas()).map((r) => r.mode);
    await new Promise((r) => setTimeout(r, 3000));

    await vol.cli('kill-replica', '--index', '1');
    await vol.waitFor('replica 1 to be ERR', async () => (await modes())[1] === 'ERR');
    await new Promise((r) => setTimeout(r, 2000));
    await vol.cli('kill-replica', '--index', '2');
    await vol.waitFor('replica 2 to be ERR', async () => (await modes())[2] === 'ERR');
    expect(await modes()).toEqual(['RW', 'ERR', 'ERR']);
    await new Promise((r) => setTimeout(r, 2000));

    await vol.cli('add-replica');
    await vol.cli('add-replica');
    expect(fio.child.exitCode, 'fio was still writing while both replicas rebuilt').toBeNull();
    await new Promise((r) => setTimeout(r, 2000));
    fio.child.kill('SIGINT');
    const rows = await vol.replicas();
    expect(rows.filter((r) => r.mode === 'RW')).toHaveLength(3);
    expect(rows.filter((r) => r.mode === 'RW').map((r) => r.index)).toEqual([0, 3, 4]);

    const result = await fio.done;
    const job = JSON.parse(result.out.slice(result.out.indexOf('{'))).jobs[0];
    expect(job.error, result.out.slice(-2000)).toBe(0);
    expect(job.write.total_ios).toBeGreaterThan(1000);
    // Verification reads happened (verify_backlog checks written blocks while running).
    expect(job.read.total_ios).toBeGreaterThan(100);
    expect(result.out).not.toMatch(/verify: bad|crc32c: verify failed/i);

    // Every RW replica's merged content is the same, byte for byte.
    const hashes = await Promise.all(
      rows.filter((r) => r.mode === 'RW').map((r) => vol.replicaHash(r, SIZE)),
    );
    expect(new Set(hashes).size).toBe(1);
  }, 180_000);
});
