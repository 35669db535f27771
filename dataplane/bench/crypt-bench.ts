/**
 * Encryption benchmark: an encrypted volume against a plain one, fio through NBD, alternating
 * the two sides, best of `repeat`; goal >= 0.8x on 4 KiB random and 1 MiB sequential I/O.
 *   (1) the layer alone: NbdServer over a MemoryBlockDevice filled with random bytes (so every
 *       read decrypts; zeros would be holes and skip the cipher), plain vs CryptBlockDevice;
 *   (2) a whole volume: `longhorn-local volume up` with 1 replica, plain vs --encrypt, both
 *       filled first, same disk.
 * CPU per I/O (µs) beside each rate: (1) this process's (the NBD server and the cipher's
 * threads), (2) the volume's processes' (instance manager, engine, replica server, from /proc);
 * steadier than the rates on a shared machine.
 *
 *   npx tsx dataplane/bench/crypt-bench.ts [--runtime S] [--repeat N] [--only layer|volume] [--cipher js]
 *        [--plain-copying]
 * (--plain-copying: the plain volume copies its reads too, LONGHORN_ZERO_COPY=0, so the pair
 *  differs only by the encryption layer; by default plain large reads leave by sendfile, which
 *  an encrypted volume's reads cannot: they must pass through the cipher)
 * (--cipher js: the layer alone with the JS cipher instead of the native addon)
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import type { BlockDevice } from '../src/block/index.js';
import { CryptBlockDevice, newDataKey } from '../src/crypt/index.js';
import { NbdServer } from '../src/frontend/nbd/index.js';
import { MemoryBlockDevice } from '../test/nbd/memory-device.js';
import { better, fio, fioSample, type Workload } from './fio-runner.js';
import { treeCpuUs } from './proc-cpu.js';

const { values } = parseArgs({
  options: {
    runtime: { type: 'string', default: '4' },
    repeat: { type: 'string', default: '2' },
    only: { type: 'string' },
    cipher: { type: 'string', default: 'best' },
    'plain-copying': { type: 'boolean', default: false },
  },
});
const runtime = Number(values.runtime);
const cipher = values.cipher ?? 'best';
const repeat = Number(values.repeat);
const SIZE = 256 << 20;

const WORKLOADS: Workload[] = [
  { name: '4k randread QD32', rw: 'randread', bs: '4k', iodepth: 32, metric: 'iops' },
  { name: '4k randwrite QD32', rw: 'randwrite', bs: '4k', iodepth: 32, metric: 'iops' },
  { name: '1M read QD16', rw: 'read', bs: '1m', iodepth: 16, metric: 'MiB/s' },
  { name: '1M write QD16', rw: 'write', bs: '1m', iodepth: 16, metric: 'MiB/s' },
];

type Row = {
  plain: number;
  encrypted: number;
  ratio: number;
  /** Server CPU per I/O (us), the least of the runs: steadier than rates on a busy machine. */
  cpuUsPerIo: { plain: number; encrypted: number };
};

/** CPU time used so far (µs) by whatever serves one side. */
type CpuClock = () => number;

const ownCpu: CpuClock = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** One fio run, and the CPU time per I/O that `cpu` counted during it. */
async function measure(uri: string, w: Workload, cpu: CpuClock): Promise<{ value: number; cpuUs: number }> {
  const before = cpu();
  const s = await fioSample(uri, w, runtime, SIZE);
  return { value: s.value, cpuUs: (cpu() - before) / s.ios };
}

/** CPU time (µs) of `root` and every process below it (exited ones are not counted). */
const treeCpu =
  (root: number): CpuClock =>
  () =>
    treeCpuUs(root);

async function compare(
  title: string,
  plainUri: string,
  cryptUri: string,
  plainCpu: CpuClock,
  cryptCpu: CpuClock,
): Promise<Record<string, Row>> {
  const out: Record<string, Row> = {};
  console.log(`-- ${title}`);
  for (const w of WORKLOADS) {
    let a: number | null = null;
    let b: number | null = null;
    // Warm both paths (JIT, buffer pools) so neither side is measured cold.
    await fio(plainUri, w, 1, SIZE);
    await fio(cryptUri, w, 1, SIZE);
    let cpuA = Number.POSITIVE_INFINITY;
    let cpuB = Number.POSITIVE_INFINITY;
    for (let i = 0; i < repeat; i++) {
      const pa = await measure(plainUri, w, plainCpu);
      const pb = await measure(cryptUri, w, cryptCpu);
      a = better(w, a, pa.value);
      b = better(w, b, pb.value);
      cpuA = Math.min(cpuA, pa.cpuUs);
      cpuB = Math.min(cpuB, pb.cpuUs);
    }
    const ratio = w.metric === 'lat_us' ? a! / b! : b! / a!;
    out[w.name] = { plain: a!, encrypted: b!, ratio, cpuUsPerIo: { plain: cpuA, encrypted: cpuB } };
    const cpuText = `  cpu/io ${cpuA.toFixed(1)} -> ${cpuB.toFixed(1)} us`;
    console.log(
      `${w.name.padEnd(18)} plain ${a!.toFixed(1).padStart(9)}  encrypted ${b!.toFixed(1).padStart(9)} ${w.metric.padEnd(6)} encrypted/plain ${ratio.toFixed(3)}x${cpuText}`,
    );
  }
  return out;
}

async function serve(device: BlockDevice): Promise<{ uri: string; close: () => Promise<void> }> {
  const server = new NbdServer({ exports: new Map([['', device]]) });
  const { port } = await server.listenTcp('127.0.0.1', 0);
  return { uri: `nbd://127.0.0.1:${port}/`, close: () => server.close() };
}

async function layer(): Promise<Record<string, Row>> {
  const plainMem = new MemoryBlockDevice(SIZE);
  randomBytes(SIZE).copy(plainMem.data);
  const cryptMem = new MemoryBlockDevice(SIZE);
  randomBytes(SIZE).copy(cryptMem.data);
  const plain = await serve(plainMem);
  const cryptDevice = new CryptBlockDevice(cryptMem, newDataKey(), 'bench', cipher === 'js' ? 'js' : 'best');
  const crypt = await serve(cryptDevice);
  try {
    return await compare(
      `the encryption layer alone (NbdServer over memory, random contents; cipher: ${cryptDevice.implementation}${cryptDevice.nativeEngine ? `/${cryptDevice.nativeEngine}` : ''})`,
      plain.uri,
      crypt.uri,
      ownCpu,
      ownCpu,
    );
  } finally {
    await plain.close();
    await crypt.close();
  }
}

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/longhorn-local.js', import.meta.url));
const cli = async (...args: string[]) => (await run(process.execPath, [BIN, ...args])).stdout.trim();
/** The plain volume's processes inherit LONGHORN_ZERO_COPY=0 with --plain-copying. */
const plainEnv = values['plain-copying'] ? { ...process.env, LONGHORN_ZERO_COPY: '0' } : process.env;

async function volume(): Promise<Record<string, Row>> {
  const dir = mkdtempSync(join(tmpdir(), 'lh-crypt-bench-'));
  const keyFile = join(dir, 'kek');
  writeFileSync(keyFile, randomBytes(32));
  const plainDir = join(dir, 'plain');
  const cryptDir = join(dir, 'crypt');
  try {
    const plainUri = (
      await run(
        process.execPath,
        [BIN, 'volume', 'up', '--dir', plainDir, '--replicas', '1', '--size', String(SIZE)],
        { env: plainEnv },
      )
    ).stdout
      .trim()
      .split('\n')
      .at(-1)!;
    const cryptUri = (
      await cli(
        'volume',
        'up',
        '--dir',
        cryptDir,
        '--replicas',
        '1',
        '--size',
        String(SIZE),
        '--encrypt',
        '--key-file',
        keyFile,
      )
    )
      .split('\n')
      .at(-1)!;
    // Filled, so reads read data (an encrypted hole reads as zeros without the cipher).
    for (const uri of [plainUri, cryptUri]) {
      await run('fio', [
        '--name=fill',
        '--ioengine=nbd',
        `--uri=${uri}`,
        '--rw=write',
        '--bs=1m',
        '--iodepth=8',
        `--size=${SIZE}`,
      ]);
    }
    const imPid = (dir: string) =>
      (JSON.parse(readFileSync(join(dir, 'volume.json'), 'utf8')) as { nodes: { imPid: number }[] }).nodes[0]!
        .imPid;
    return await compare(
      `a volume, 1 replica (longhorn-local volume up, plain${values['plain-copying'] ? ' copying its reads' : ''} vs --encrypt; CPU of its processes)`,
      plainUri,
      cryptUri,
      treeCpu(imPid(plainDir)),
      treeCpu(imPid(cryptDir)),
    );
  } finally {
    await cli('volume', 'down', '--dir', plainDir).catch(() => {});
    await cli('volume', 'down', '--dir', cryptDir).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

const results: Record<string, Record<string, Row>> = {};
if (values.only !== 'volume') results.layer = await layer();
if (values.only !== 'layer') results.volume = await volume();
console.log(JSON.stringify(results, null, 2));
