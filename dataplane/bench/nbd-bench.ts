/**
 * NBD frontend micro-benchmark: fio through its nbd engine against (a) nbdkit's file plugin and
 * (b) our NbdServer over a plain-file BlockDevice, both on the same backing file, in one run.
 * Prints a table with ratios ours/nbdkit, then the same as JSON.
 *
 *   npx tsx dataplane/bench/nbd-bench.ts [--runtime S] [--repeat N] [--size MiB] [--dir DIR]
 *                                        [--only NAME] [--memory] [--threads N]
 *
 * Each workload runs `repeat` times alternating servers and keeps each side's best, which
 * keeps a busy shared machine from deciding the ratio. Server CPU time per I/O (process-wide,
 * so our libuv pool threads count too) is printed as well: it does not depend on contention.
 * --memory adds nbdkit's memory plugin against a MemoryBlockDevice: the frontends alone.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import type { BlockDevice } from '../src/block/index.js';
import { NbdServer } from '../src/frontend/nbd/index.js';
import { FileBlockDevice } from '../test/nbd/file-block-device.js';
import { MemoryBlockDevice } from '../test/nbd/memory-device.js';
import { fioSample, run, WORKLOADS, type Workload } from './fio-runner.js';

interface Sample {
  value: number;
  cpuUsPerIo: number;
  /** Median completion latency (µs): robust when a busy machine inflates the mean. */
  p50Us: number;
}

interface Row {
  unit: string;
  nbdkit: number;
  ours: number;
  /** ours / nbdkit; above 1 is better except for latency. */
  ratio: number;
  nbdkitCpuUsPerIo: number;
  oursCpuUsPerIo: number;
  nbdkitP50Us: number;
  oursP50Us: number;
}

const { values } = parseArgs({
  options: {
    runtime: { type: 'string', default: '3' },
    repeat: { type: 'string', default: '2' },
    size: { type: 'string', default: '512' },
    dir: { type: 'string', default: '/tmp/nbd-bench' },
    only: { type: 'string' },
    memory: { type: 'boolean', default: false },
    threads: { type: 'string', default: '4' },
  },
});
const runtime = Number(values.runtime);
const repeat = Number(values.repeat);
const sizeBytes = Number(values.size) * 1024 * 1024;
const backing = `${values.dir}/backing.img`;
const CLOCK_TICK_US = 1e6 / 100; // USER_HZ, 100 on Linux

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

/** CPU time (µs) a process has used so far: ours from the runtime, nbdkit's from /proc. */
function cpuUs(pid: number | null): number {
  if (pid === null) {
    const { user, system } = process.cpuUsage();
    return user + system;
  }
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_US;
}

/** One fio run, with the server's CPU time per I/O around it. */
async function fio(uri: string, w: Workload, serverPid: number | null): Promise<Sample> {
  const before = cpuUs(serverPid);
  const sample = await fioSample(uri, w, runtime);
  const cpuUsPerIo = (cpuUs(serverPid) - before) / Math.max(sample.ios, 1);
  return { value: sample.value, cpuUsPerIo, p50Us: sample.p50Us };
}

function better(w: Workload, a: Sample | null, b: Sample): Sample {
  if (!a) return b;
  return (w.metric === 'lat_us' ? b.value < a.value : b.value > a.value) ? b : a;
}

/** Runs every workload against nbdkit with `plugin` and against our server over `device`. */
async function compare(
  label: string,
  plugin: string[],
  device: BlockDevice,
  workloads: Workload[],
): Promise<Record<string, Row>> {
  const results: Record<string, Row> = {};
  const nbdkitPort = await freePort();
  const nbdkit = spawn('nbdkit', ['-f', '-i', '127.0.0.1', '-p', String(nbdkitPort), ...plugin], {
    stdio: 'ignore',
  });
  const server = new NbdServer({ exports: new Map([['', device]]) });
  try {
    await waitForPort(nbdkitPort, 10_000);
    const { port } = await server.listenTcp('127.0.0.1', 0);
    console.log(`-- ${label}: nbdkit ${plugin[0]} plugin vs NbdServer over ${device.constructor.name}`);
    for (const w of workloads) {
      let theirs: Sample | null = null;
      let ours: Sample | null = null;
      for (let i = 0; i < repeat; i++) {
        theirs = better(w, theirs, await fio(`nbd://127.0.0.1:${nbdkitPort}/`, w, nbdkit.pid!));
        ours = better(w, ours, await fio(`nbd://127.0.0.1:${port}/`, w, null));
      }
      const row: Row = {
        unit: w.metric,
        nbdkit: theirs!.value,
        ours: ours!.value,
        ratio: ours!.value / theirs!.value,
        nbdkitCpuUsPerIo: theirs!.cpuUsPerIo,
        oursCpuUsPerIo: ours!.cpuUsPerIo,
        nbdkitP50Us: theirs!.p50Us,
        oursP50Us: ours!.p50Us,
      };
      results[w.name] = row;
      console.log(
        `${w.name.padEnd(18)} nbdkit ${row.nbdkit.toFixed(1).padStart(9)}  ours ${row.ours.toFixed(1).padStart(9)}` +
          ` ${w.metric.padEnd(6)} ratio ${row.ratio.toFixed(2)}x   cpu/io nbdkit ${row.nbdkitCpuUsPerIo.toFixed(1)}` +
          ` us, ours ${row.oursCpuUsPerIo.toFixed(1)} us` +
          (w.metric === 'lat_us'
            ? `   p50 nbdkit ${row.nbdkitP50Us.toFixed(1)} us, ours ${row.oursP50Us.toFixed(1)} us` +
              ` (${(row.oursP50Us / row.nbdkitP50Us).toFixed(2)}x)`
            : ''),
      );
    }
  } finally {
    nbdkit.kill('SIGTERM');
    await server.close();
  }
  return results;
}

/**
 * The file device's pread/pwrite run on libuv's pool, 4 threads unless UV_THREADPOOL_SIZE is
 * set before first use; `--threads N` re-runs us with it (nbdkit uses 16). Measured here, 16
 * threads cost QD1 latency (an idle thread to wake per request) for little QD32 gain.
 */
function reexecWithThreadpool(): Promise<boolean> {
  if (process.env.UV_THREADPOOL_SIZE || values.threads === '4') return Promise.resolve(false);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      stdio: 'inherit',
      env: { ...process.env, UV_THREADPOOL_SIZE: values.threads },
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
  const results: Record<string, Record<string, Row>> = {};
  const file = await FileBlockDevice.open(backing, sizeBytes);
  try {
    results.file = await compare('file', ['file', `file=${backing}`], file, workloads);
    if (values.memory) {
      const memory = new MemoryBlockDevice(sizeBytes);
      results.memory = await compare('memory', ['memory', String(sizeBytes)], memory, workloads);
    }
  } finally {
    await file.close();
    await rm(values.dir, { recursive: true, force: true });
  }
  console.log(JSON.stringify({ bench: 'nbd-frontend', runtimeSeconds: runtime, repeat, results }, null, 2));
}

await main();
