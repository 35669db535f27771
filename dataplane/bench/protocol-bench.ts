/**
 * Replica protocol micro-benchmark: the same workloads against a Replica called directly
 * (in this process) and through ReplicaClient -> ReplicaServer (a child process, TCP loopback
 * and Unix socket) -> Replica. Prints a table and one JSON line with the ratios.
 *
 *   npx tsx dataplane/bench/protocol-bench.ts [--seconds 2] [--size-mib 512]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ReplicaServerAdmin } from '../src/protocol/admin-client.js';
import { ReplicaClient } from '../src/protocol/client.js';
import { Replica } from '../src/replica/replica.js';

const here = dirname(fileURLToPath(import.meta.url));
const MAIN = resolve(here, '../src/protocol/replica-server-main.ts');
const MiB = 1024 * 1024;

interface Target {
  read(offset: number, length: number): Promise<Buffer>;
  write(offset: number, data: Buffer): Promise<void>;
}

interface Workload {
  name: string;
  blockSize: number;
  qd: number;
  random: boolean;
  write: boolean;
}

const WORKLOADS: Workload[] = [
  { name: '4k-randwrite-qd32', blockSize: 4096, qd: 32, random: true, write: true },
  { name: '4k-randread-qd32', blockSize: 4096, qd: 32, random: true, write: false },
  { name: '1m-seqwrite-qd16', blockSize: MiB, qd: 16, random: false, write: true },
  { name: '1m-seqread-qd16', blockSize: MiB, qd: 16, random: false, write: false },
];

/** Runs `qd` workers issuing I/O back to back for `seconds`; returns ops/s and MiB/s. */
async function run(
  t: Target,
  w: Workload,
  size: number,
  seconds: number,
): Promise<{ iops: number; mibs: number }> {
  const blocks = Math.floor(size / w.blockSize);
  const payload = randomBytes(w.blockSize);
  let next = 0;
  let ops = 0;
  const deadline = performance.now() + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const block = w.random ? Math.floor(Math.random() * blocks) : next++ % blocks;
      const offset = block * w.blockSize;
      if (w.write) await t.write(offset, payload);
      else await t.read(offset, w.blockSize);
      ops++;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: w.qd }, worker));
  const secs = (performance.now() - start) / 1000;
  return { iops: ops / secs, mibs: (ops * w.blockSize) / MiB / secs };
}

async function fill(t: Target, size: number): Promise<void> {
  const chunk = randomBytes(4 * MiB);
  for (let off = 0; off < size; off += chunk.length)
    await t.write(off, chunk.subarray(0, Math.min(chunk.length, size - off)));
}

async function startServer(
  dir: string,
): Promise<{ child: ChildProcess; tcp: { host: string; port: number }; socket: string }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      MAIN,
      '--listen',
      '127.0.0.1:0',
      '--socket',
      join(dir, 'rs.sock'),
      '--data-dir',
      join(dir, 'srv'),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, LOG_LEVEL: 'warn' } },
  );
  const line = await new Promise<string>((res, rej) => {
    createInterface({ input: child.stdout! }).once('line', res);
    child.once('exit', (code) => rej(new Error(`replica server exited ${code}`)));
  });
  const ready = JSON.parse(line) as { tcp: { host: string; port: number }; socket: string };
  return { child, tcp: ready.tcp, socket: ready.socket };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { seconds: { type: 'string', default: '2' }, 'size-mib': { type: 'string', default: '512' } },
  });
  const seconds = Number(values.seconds);
  const size = Number(values['size-mib']) * MiB;
  const dir = await mkdtemp(join(tmpdir(), 'protocol-bench-'));
  const server = await startServer(dir);
  const results: Record<string, Record<string, { iops: number; mibs: number }>> = {};
  try {
    const direct = await Replica.create(join(dir, 'direct'), { size });
    const admin = await ReplicaServerAdmin.connect(server.tcp);
    await admin.create('tcp', { size });
    await admin.create('unix', { size });
    await admin.disconnect();
    const targets: Record<string, Target> = {
      direct,
      tcp: await ReplicaClient.connect(server.tcp, 'tcp'),
      unix: await ReplicaClient.connect({ path: server.socket }, 'unix'),
    };
    for (const [name, t] of Object.entries(targets)) {
      await fill(t, size);
      results[name] = {};
      for (const w of WORKLOADS) results[name][w.name] = await run(t, w, size, seconds);
    }
    await direct.close();
    await (targets.tcp as ReplicaClient).close();
    await (targets.unix as ReplicaClient).close();
  } finally {
    server.child.kill('SIGTERM');
    await new Promise((r) => server.child.once('exit', r));
    await rm(dir, { recursive: true, force: true });
  }

  const ratios: Record<string, { tcp: number; unix: number }> = {};
  console.log(`replica protocol bench: ${seconds}s per workload, ${size / MiB} MiB replica`);
  console.log('workload            direct          tcp             unix            tcp/direct  unix/direct');
  for (const w of WORKLOADS) {
    const d = results.direct![w.name]!;
    const t = results.tcp![w.name]!;
    const u = results.unix![w.name]!;
    ratios[w.name] = { tcp: t.iops / d.iops, unix: u.iops / d.iops };
    const fmt = (r: { iops: number; mibs: number }): string =>
      (w.blockSize === 4096 ? `${Math.round(r.iops)} IOPS` : `${Math.round(r.mibs)} MiB/s`).padEnd(16);
    console.log(
      `${w.name.padEnd(20)}${fmt(d)}${fmt(t)}${fmt(u)}${ratios[w.name]!.tcp.toFixed(2).padEnd(12)}${ratios[w.name]!.unix.toFixed(2)}`,
    );
  }
  console.log(JSON.stringify({ bench: 'protocol', seconds, sizeMiB: size / MiB, results, ratios }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
