/**
 * QoS benchmark: (1) what the QoS layer costs an unlimited volume: fio through NbdServer over a
 * MemoryBlockDevice, plain vs wrapped in a QosBlockDevice without limits, alternating, best of
 * `repeat`; (2) how closely each limit is held at steady state (fio after a 1 s ramp), with
 * nbdkit's rate filter on its memory plugin as the anchor for the bandwidth limit.
 *
 *   npx tsx dataplane/bench/qos-bench.ts [--runtime S] [--repeat N]
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import type { BlockDevice } from '../src/block/index.js';
import { NbdServer } from '../src/frontend/nbd/index.js';
import { QosBlockDevice, type QosLimits } from '../src/qos/index.js';
import { MemoryBlockDevice } from '../test/nbd/memory-device.js';
import { better, fio, run, type Workload } from './fio-runner.js';

const { values } = parseArgs({
  options: {
    runtime: { type: 'string', default: '4' },
    repeat: { type: 'string', default: '3' },
  },
});
const runtime = Number(values.runtime);
const repeat = Number(values.repeat);
const SIZE = 256 << 20;

const OVERHEAD: Workload[] = [
  { name: '4k randread QD32', rw: 'randread', bs: '4k', iodepth: 32, metric: 'iops' },
  { name: '4k randwrite QD32', rw: 'randwrite', bs: '4k', iodepth: 32, metric: 'iops' },
  { name: '1M read QD16', rw: 'read', bs: '1m', iodepth: 16, metric: 'MiB/s' },
  { name: '4k randwrite QD1', rw: 'randwrite', bs: '4k', iodepth: 1, metric: 'lat_us' },
];

async function serve(device: BlockDevice): Promise<{ uri: string; close: () => Promise<void> }> {
  const server = new NbdServer({ exports: new Map([['', device]]) });
  const { port } = await server.listenTcp('127.0.0.1', 0);
  return { uri: `nbd://127.0.0.1:${port}/`, close: () => server.close() };
}

async function waitForNbd(uri: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await run('nbdinfo', ['--size', uri]);
      return;
    } catch (err) {
      if (i > 200) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function overhead(): Promise<Record<string, { plain: number; layered: number; ratio: number }>> {
  const memory = new MemoryBlockDevice(SIZE);
  const plain = await serve(memory);
  const layered = await serve(new QosBlockDevice(memory));
  const out: Record<string, { plain: number; layered: number; ratio: number }> = {};
  try {
    console.log('-- the QoS layer without limits vs no layer (NbdServer over memory)');
    for (const w of OVERHEAD) {
      let a: number | null = null;
      let b: number | null = null;
      // Warm both paths up first (JIT, buffers), so the first side measured is not the cold one.
      await fio(plain.uri, w, 1, SIZE);
      await fio(layered.uri, w, 1, SIZE);
      for (let i = 0; i < repeat; i++) {
        a = better(w, a, await fio(plain.uri, w, runtime, SIZE));
        b = better(w, b, await fio(layered.uri, w, runtime, SIZE));
      }
      // Above 1 is better: for latency the ratio is inverted so it reads the same way.
      const ratio = w.metric === 'lat_us' ? a! / b! : b! / a!;
      out[w.name] = { plain: a!, layered: b!, ratio };
      console.log(
        `${w.name.padEnd(18)} plain ${a!.toFixed(1).padStart(9)}  layered ${b!.toFixed(1).padStart(9)} ${w.metric.padEnd(6)} layered/plain ${ratio.toFixed(3)}x`,
      );
    }
  } finally {
    await plain.close();
    await layered.close();
  }
  return out;
}

interface LimitCase {
  name: string;
  limits: QosLimits;
  workload: Workload;
  /** The limit in the workload's unit. */
  target: number;
}

const LIMITS: LimitCase[] = [
  {
    name: 'iops 1000, 4k randread QD16',
    limits: { iops: 1000 },
    workload: { name: 'r', rw: 'randread', bs: '4k', iodepth: 16, metric: 'iops' },
    target: 1000,
  },
  {
    name: 'writeIops 500, 4k randwrite QD16',
    limits: { writeIops: 500 },
    workload: { name: 'w', rw: 'randwrite', bs: '4k', iodepth: 16, metric: 'iops' },
    target: 500,
  },
  {
    name: 'bandwidth 20 MiB/s, 1M read QD8',
    limits: { bandwidth: 20 << 20 },
    workload: { name: 'b', rw: 'read', bs: '1m', iodepth: 8, metric: 'MiB/s' },
    target: 20,
  },
  {
    name: 'writeBandwidth 8 MiB/s, 64k write QD8',
    limits: { writeBandwidth: 8 << 20 },
    workload: { name: 'wb', rw: 'write', bs: '64k', iodepth: 8, metric: 'MiB/s' },
    target: 8,
  },
];

async function limitsHeld(): Promise<Record<string, { measured: number; target: number; error: number }>> {
  const out: Record<string, { measured: number; target: number; error: number }> = {};
  console.log('-- limits held at steady state (measured / limit)');
  for (const c of LIMITS) {
    const ours = await serve(new QosBlockDevice(new MemoryBlockDevice(SIZE), c.limits));
    try {
      const measured = await fio(ours.uri, c.workload, runtime, SIZE);
      const error = measured / c.target - 1;
      out[c.name] = { measured, target: c.target, error };
      console.log(
        `${c.name.padEnd(38)} ${measured.toFixed(1).padStart(8)} ${c.workload.metric}  (${(error * 100).toFixed(1)} %)`,
      );
    } finally {
      await ours.close();
    }
  }
  // The anchor: nbdkit's rate filter (bits per second) on its memory plugin, same workload.
  const port = 20000 + Math.floor(Math.random() * 20000);
  const nbdkit = spawn(
    'nbdkit',
    ['-f', '-i', '127.0.0.1', '-p', String(port), '--filter=rate', 'memory', String(SIZE), `rate=${20 * 8}M`],
    { stdio: 'ignore' },
  );
  try {
    const uri = `nbd://127.0.0.1:${port}/`;
    await waitForNbd(uri);
    const c = LIMITS[2]!;
    const measured = await fio(uri, c.workload, runtime, SIZE);
    const error = measured / c.target - 1;
    out['nbdkit rate filter 20 MiB/s, 1M read QD8'] = { measured, target: c.target, error };
    console.log(
      `${'nbdkit rate=160M, 1M read QD8'.padEnd(38)} ${measured.toFixed(1).padStart(8)} MiB/s  (${(error * 100).toFixed(1)} %)`,
    );
  } finally {
    nbdkit.kill('SIGTERM');
  }
  return out;
}

const results = { overhead: await overhead(), limits: await limitsHeld() };
console.log(JSON.stringify(results, null, 2));
