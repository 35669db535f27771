import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalVolume, longhornLocal, sh } from './cli.js';

interface FioSide {
  iops: number;
  bw_bytes: number;
}

/** fio through the nbd engine for `seconds` after a ramp; returns read and write rates. */
async function fio(uri: string, args: string[], seconds: number) {
  const { stdout } = await sh('fio', [
    '--ioengine=nbd',
    `--uri=${uri}`,
    '--name=qos',
    '--size=32m',
    '--iodepth=8',
    '--time_based',
    '--ramp_time=2',
    `--runtime=${seconds}`,
    '--output-format=json',
    ...args,
  ]);
  const job = (JSON.parse(stdout.slice(stdout.indexOf('{'))) as { jobs: { read: FioSide; write: FioSide }[] })
    .jobs[0]!;
  return job;
}

describe('QoS limits through NBD (longhorn-local volume, fio)', () => {
  const vol = new LocalVolume();

  beforeAll(async () => {
    const out = await longhornLocal(
      'volume',
      'up',
      '--dir',
      vol.dir,
      '--replicas',
      '2',
      '--size',
      '64MiB',
      '--iops-limit',
      '200',
    );
    vol.uri = out.trim().split('\n').at(-1)!;
  }, 60_000);

  afterAll(() => vol.down(), 60_000);

  it('holds an IOPS limit set at start, and shows it in volume info', async () => {
    const info = JSON.parse(await vol.cli('info', '-o', 'json')) as { qos: { limits: object } };
    expect(info.qos.limits).toEqual({ iops: 200 });
    const job = await fio(vol.uri, ['--rw=randrw', '--bs=4k'], 4);
    const iops = job.read.iops + job.write.iops;
    expect(iops).toBeGreaterThan(200 * 0.9);
    expect(iops).toBeLessThan(200 * 1.1);
  }, 60_000);

  it('changes limits online: a write bandwidth limit replaces the IOPS limit without a reconnect; data verifies', async () => {
    const out = await vol.cli('qos', '--iops-limit', 'unlimited', '--write-bandwidth-limit', String(2 << 20));
    expect(out.trim()).toBe(`vol: write-bandwidth ${2 << 20}`);
    const job = await fio(
      vol.uri,
      ['--rw=randwrite', '--bs=64k', '--verify=crc32c', '--do_verify=1', '--verify_fatal=1'],
      4,
    );
    expect(job.write.bw_bytes).toBeGreaterThan((2 << 20) * 0.9);
    expect(job.write.bw_bytes).toBeLessThan((2 << 20) * 1.1);
    const info = JSON.parse(await vol.cli('qos', '-o', 'json')) as {
      limits: object;
      throttledRequests: number;
    };
    expect(info.limits).toEqual({ writeBandwidth: 2 << 20 });
    expect(info.throttledRequests).toBeGreaterThan(0);
  }, 60_000);

  it('refuses a limit of 0 or a negative one and keeps the current limits', async () => {
    await expect(vol.cli('qos', '--iops-limit', '0')).rejects.toThrow(
      /--iops-limit must be a positive integer or "unlimited", got "0"/,
    );
    await expect(vol.cli('qos', '--bandwidth-limit=-5')).rejects.toThrow(
      /--bandwidth-limit must be a positive/,
    );
    const info = JSON.parse(await vol.cli('qos', '-o', 'json')) as { limits: object };
    expect(info.limits).toEqual({ writeBandwidth: 2 << 20 });
    await vol.cli('qos', '--write-bandwidth-limit', 'unlimited');
    expect((JSON.parse(await vol.cli('qos', '-o', 'json')) as { limits: object }).limits).toEqual({});
  }, 60_000);
});
