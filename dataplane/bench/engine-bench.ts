/**
 * Engine benchmark: fio through its nbd engine against (a) nbdkit's file plugin, (b) our engine
 * with 1 replica, (c) with 3 replicas, all on the same disk in one run; ratios ours/nbdkit.
 * Then rebuild throughput of a half-full volume, and the RSS of one node hosting 50 replicas
 * and 10 attached volumes.
 *
 *   npx tsx dataplane/bench/engine-bench.ts [--runtime S] [--repeat N] [--size MiB] [--dir DIR]
 *        [--only NAME] [--skip-rebuild] [--skip-rss] [--rebuild-size MiB]
 * (run `npm run build` first: the engine and replica servers run from dist/)
 */
import { spawn } from 'node:child_process';
import { mkdir, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../src/cli/detached-process.js';
import { addReplica, listReplicas, volumeDown, volumeUp } from '../src/cli/local-volume.js';
import { better, fill, fio, run, WORKLOADS } from './fio-runner.js';
import { measureNodeRss } from './node-rss.js';

const { values } = parseArgs({
  options: {
    runtime: { type: 'string', default: '4' },
    repeat: { type: 'string', default: '1' },
    size: { type: 'string', default: '1024' },
    dir: { type: 'string', default: '/tmp/engine-bench' },
    only: { type: 'string' },
    'skip-rebuild': { type: 'boolean', default: false },
    'skip-rss': { type: 'boolean', default: false },
    'rebuild-size': { type: 'string', default: '2048' },
  },
});
const runtime = Number(values.runtime);
const repeat = Number(values.repeat);
const MiB = 1024 * 1024;
const size = Number(values.size) * MiB;
const dir = values.dir!;
const workloads = values.only ? WORKLOADS.filter((w) => w.name.includes(values.only!)) : WORKLOADS;

type Target = { label: string; uri: string; stop: () => Promise<void> };

async function nbdkitTarget(): Promise<Target> {
  const file = join(dir, 'nbdkit.img');
  await writeFile(file, '');
  await truncate(file, size);
  const port = await freePort('127.0.0.1');
  const child = spawn('nbdkit', ['-f', '-i', '127.0.0.1', '-p', String(port), 'file', `file=${file}`], {
    stdio: 'ignore',
  });
  const uri = `nbd://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await run('nbdinfo', ['--size', uri]);
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    label: 'nbdkit file',
    uri,
    stop: async () => {
      child.kill('SIGTERM');
    },
  };
}

async function engineTarget(replicas: number): Promise<Target> {
  const vdir = join(dir, `vol-${replicas}`);
  const uri = await volumeUp({ dir: vdir, replicas, size });
  return { label: `ours ${replicas} replica${replicas > 1 ? 's' : ''}`, uri, stop: () => volumeDown(vdir) };
}

async function throughput(): Promise<Record<string, Record<string, number>>> {
  const targets = [await nbdkitTarget(), await engineTarget(1), await engineTarget(3)];
  const table: Record<string, Record<string, number>> = {};
  try {
    for (const t of targets) await fill(t.uri, size);
    for (const w of workloads) {
      const row: Record<string, number> = {};
      for (const t of targets) {
        let best: number | null = null;
        for (let i = 0; i < repeat; i++) best = better(w, best, await fio(t.uri, w, runtime, size));
        row[t.label] = best!;
      }
      const base = row['nbdkit file']!;
      row['ratio 1r'] = row['ours 1 replica']! / base;
      row['ratio 3r'] = row['ours 3 replicas']! / base;
      table[w.name] = row;
      console.log(
        `${w.name.padEnd(18)} ${w.metric.padEnd(6)} nbdkit ${base.toFixed(1).padStart(9)}  1r ${row['ours 1 replica']!.toFixed(1).padStart(9)}` +
          ` (${row['ratio 1r']!.toFixed(2)}x)  3r ${row['ours 3 replicas']!.toFixed(1).padStart(9)} (${row['ratio 3r']!.toFixed(2)}x)`,
      );
    }
    const wr = table['4k randwrite QD32'];
    if (wr)
      console.log(
        `3-replica 4k randwrite IOPS / 1-replica: ${(wr['ours 3 replicas']! / wr['ours 1 replica']!).toFixed(2)}x`,
      );
  } finally {
    for (const t of targets) await t.stop();
  }
  return table;
}

/** Rebuild of a half-full volume: time from add-replica until the new replica is RW. */
async function rebuild(): Promise<{ bytes: number; seconds: number; MiBps: number }> {
  const rsize = Number(values['rebuild-size']) * MiB;
  const vdir = join(dir, 'rebuild');
  const uri = await volumeUp({ dir: vdir, replicas: 1, size: rsize });
  try {
    await fill(uri, rsize / 2);
    const t0 = performance.now();
    await addReplica(vdir);
    const seconds = (performance.now() - t0) / 1000;
    const rows = await listReplicas(vdir);
    if (!rows.every((r) => r.mode === 'RW')) throw new Error(`rebuild left ${JSON.stringify(rows)}`);
    const result = { bytes: rsize / 2, seconds, MiBps: rsize / 2 / MiB / seconds };
    console.log(
      `rebuild: ${(rsize / 2 / MiB).toFixed(0)} MiB of data in ${seconds.toFixed(2)} s = ${result.MiBps.toFixed(0)} MiB/s`,
    );
    return result;
  } finally {
    await volumeDown(vdir);
  }
}

async function main(): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const results: Record<string, unknown> = { bench: 'engine', runtimeSeconds: runtime, sizeMiB: size / MiB };
  try {
    results.fio = await throughput();
    if (!values['skip-rebuild']) results.rebuild = await rebuild();
    if (!values['skip-rss']) results.nodeRss = await measureNodeRss(join(dir, 'rss'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  console.log(JSON.stringify(results, null, 2));
}

await main();
