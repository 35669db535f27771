/** fio through its nbd engine, for the benchmarks: one workload against one NBD URI. */
import { spawn } from 'node:child_process';

export interface Workload {
  name: string;
  rw: string;
  bs: string;
  iodepth: number;
  /** Which figure matters: throughput for most, mean latency for QD1. */
  metric: 'iops' | 'MiB/s' | 'lat_us';
}

export const WORKLOADS: Workload[] = [
  { name: '4k randread QD32', rw: 'randread', bs: '4k', iodepth: 32, metric: 'iops' },
  { name: '4k randwrite QD32', rw: 'randwrite', bs: '4k', iodepth: 32, metric: 'iops' },
  { name: '1M read QD16', rw: 'read', bs: '1m', iodepth: 16, metric: 'MiB/s' },
  { name: '1M write QD16', rw: 'write', bs: '1m', iodepth: 16, metric: 'MiB/s' },
  { name: '4k randread QD1', rw: 'randread', bs: '4k', iodepth: 1, metric: 'lat_us' },
  { name: '4k randwrite QD1', rw: 'randwrite', bs: '4k', iodepth: 1, metric: 'lat_us' },
];

export function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${err}`)),
    );
  });
}

/** Runs one workload for `runtime` seconds (after a 1 s ramp) and returns its figure. */
export async function fio(uri: string, w: Workload, runtime: number, size?: number): Promise<number> {
  return (await fioSample(uri, w, runtime, size)).value;
}

export interface FioSample {
  /** The workload's figure (see Workload.metric). */
  value: number;
  /** I/Os completed, scaled up to include the 1 s ramp (which fio leaves out of its counters). */
  ios: number;
  /** Median completion latency (µs): robust when a busy machine inflates the mean. */
  p50Us: number;
}

/** Like `fio`, also returning the I/O count, so callers can divide CPU time by it. */
export async function fioSample(
  uri: string,
  w: Workload,
  runtime: number,
  size?: number,
): Promise<FioSample> {
  const out = await run('fio', [
    '--name=bench',
    '--ioengine=nbd',
    `--uri=${uri}`,
    `--rw=${w.rw}`,
    `--bs=${w.bs}`,
    `--iodepth=${w.iodepth}`,
    ...(size ? [`--size=${size}`] : []),
    `--runtime=${runtime}`,
    '--time_based',
    '--ramp_time=1',
    '--output-format=json',
  ]);
  const job = JSON.parse(out.slice(out.indexOf('{'))).jobs[0];
  const side = w.rw.includes('read') ? job.read : job.write;
  const ios = side.total_ios * ((runtime + 1) / runtime);
  const p50Us = (side.clat_ns.percentile?.['50.000000'] ?? 0) / 1000;
  if (w.metric === 'iops') return { value: side.iops, ios, p50Us };
  if (w.metric === 'MiB/s') return { value: side.bw_bytes / 1024 / 1024, ios, p50Us };
  return { value: side.lat_ns.mean / 1000, ios, p50Us };
}

/** Fills `size` bytes at the start of an NBD export with data, so reads hit real blocks. */
export async function fill(uri: string, size: number): Promise<void> {
  await run('fio', [
    '--name=fill',
    '--ioengine=nbd',
    `--uri=${uri}`,
    '--rw=write',
    '--bs=1m',
    '--iodepth=16',
    `--size=${size}`,
    '--refill_buffers',
    '--output-format=terse',
  ]);
}

export function better(w: Workload, a: number | null, b: number): number {
  if (a === null) return b;
  return (w.metric === 'lat_us' ? b < a : b > a) ? b : a;
}
