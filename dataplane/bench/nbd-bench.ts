/**
 * NBD frontend micro-benchmark: fio through its nbd engine against (a) nbdkit's file plugin and
 * (b) our NbdServer over a plain-file BlockDevice, both on the same backing file, in one run.
 * Prints a table of results and ratios ours/nbdkit, then the same as JSON.
 *
 *   npx tsx dataplane/bench/nbd-bench.ts [--runtime SECONDS] [--size MiB] [--dir DIR] [--only NAME]
 */
import { spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { NbdServer } from '../src/frontend/nbd/index.js';
import { FileBlockDevice } from '../test/nbd/file-block-device.js';

interface Workload {
  name: string;
  rw: string;
  bs: string;
  iodepth: number;
  /** Which figure matters: throughput for most, latency for QD1. */
  metric: 'iops' | 'MiB/s' | 'lat_us';
}

const WORKLOADS: Workload[] = [
  { name: '4k randread QD32', rw: 'randread', bs: '4k', iodepth: 32, metric: 'iops' },
  { name: '4k randwrite QD32', rw: 'randwrite', bs: '4k', iodepth: 32, metric: 'iops' },
  { name: '1M read QD16', rw: 'read', bs: '1m', iodepth: 16, metric: 'MiB/s' },
  { name: '1M write QD16', rw: 'write', bs: '1m', iodepth: 16, metric: 'MiB/s' },
  { name: '4k randread QD1', rw: 'randread', bs: '4k', iodepth: 1, metric: 'lat_us' },
  { name: '4k randwrite QD1', rw: 'randwrite', bs: '4k', iodepth: 1, metric: 'lat_us' },
];

const { values } = parseArgs({
  options: {
    runtime: { type: 'string', default: '5' },
    size: { type: 'string', default: '512' },
    dir: { type: 'string', default: '/tmp/nbd-bench' },
    only: { type: 'string' },
  },
});
const runtime = Number(values.runtime);
const sizeBytes = Number(values.size) * 1024 * 1024;
const backing = `${values.dir}/backing.img`;

function run(cmd: string, args: string[]): Promise<string> {
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

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function waitForPort(port: number, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    try {
      await run('nbdinfo', ['--size', `nbd://127.0.0.1:${port}`]);
      return;
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function fio(uri: string, w: Workload): Promise<number> {
  const out = await run('fio', [
    '--name=bench',
    '--ioengine=nbd',
    `--uri=${uri}`,
    `--rw=${w.rw}`,
    `--bs=${w.bs}`,
    `--iodepth=${w.iodepth}`,
    `--runtime=${runtime}`,
    '--time_based',
    '--ramp_time=1',
    '--output-format=json',
  ]);
  const job = JSON.parse(out.slice(out.indexOf('{'))).jobs[0];
  const side = w.rw.includes('read') ? job.read : job.write;
  if (w.metric === 'iops') return side.iops;
  if (w.metric === 'MiB/s') return side.bw_bytes / 1024 / 1024;
  return side.lat_ns.mean / 1000;
}

/**
 * nbdkit serves with 16 threads by default; the file device's pread/pwrite run on libuv's pool,
 * 4 threads unless told before first use. Give it the same 16 by re-running ourselves.
 */
function reexecWithThreadpool(): Promise<boolean> {
  if (process.env.UV_THREADPOOL_SIZE) return Promise.resolve(false);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      stdio: 'inherit',
      env: { ...process.env, UV_THREADPOOL_SIZE: '16' },
    });
    child.on('error', reject);
    child.on('close', (code) => {
      process.exitCode = code ?? 1;
      resolve(true);
    });
  });
}

async function main(): Promise<void> {
  if (await reexecWithThreadpool()) return;
  await mkdir(values.dir, { recursive: true });
  // A backing file full of data, so reads hit real blocks rather than holes.
  await run('fio', [
    '--name=fill',
    `--filename=${backing}`,
    `--size=${sizeBytes}`,
    '--rw=write',
    '--bs=1m',
    '--refill_buffers',
    '--output-format=terse',
  ]);
  const workloads = values.only ? WORKLOADS.filter((w) => w.name.includes(values.only!)) : WORKLOADS;
  const results: Record<string, { nbdkit: number; ours: number; ratio: number; unit: string }> = {};

  const nbdkitPort = await freePort();
  const nbdkit = spawn(
    'nbdkit',
    ['-f', '-i', '127.0.0.1', '-p', String(nbdkitPort), 'file', `file=${backing}`],
    {
      stdio: 'ignore',
    },
  );
  const device = await FileBlockDevice.open(backing, sizeBytes);
  const server = new NbdServer({ exports: new Map([['', device]]) });
  try {
    await waitForPort(nbdkitPort, 10_000);
    const { port } = await server.listenTcp('127.0.0.1', 0);
    for (const w of workloads) {
      const theirs = await fio(`nbd://127.0.0.1:${nbdkitPort}/`, w);
      const ours = await fio(`nbd://127.0.0.1:${port}/`, w);
      // Ratios are ours/nbdkit for every metric: above 1 is better except for latency.
      results[w.name] = { nbdkit: theirs, ours, ratio: ours / theirs, unit: w.metric };
      console.log(
        `${w.name.padEnd(20)} nbdkit ${theirs.toFixed(1).padStart(10)} ${w.metric.padEnd(6)}` +
          `  ours ${ours.toFixed(1).padStart(10)} ${w.metric.padEnd(6)}  ratio ${(ours / theirs).toFixed(2)}x`,
      );
    }
  } finally {
    nbdkit.kill('SIGTERM');
    await server.close();
    await device.close();
    await rm(values.dir, { recursive: true, force: true });
  }
  console.log(JSON.stringify({ bench: 'nbd-frontend', runtimeSeconds: runtime, results }, null, 2));
}

await main();
