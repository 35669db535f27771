/**
 * Engine benchmark: fio through its nbd engine against (a) nbdkit's file plugin, (b) our engine
 * with 1 replica, (c) with 3 replicas, all on the same disk in one run; ratios ours/nbdkit.
 * Each figure comes with the CPU time (µs) the serving processes spent per I/O (nbdkit; our
 * engine plus its replica servers), which drifts less than throughput on a shared machine.
 * Then rebuild throughput of a half-full volume (through the CLI's volume, and replica to replica
 * between two replica servers), and the RSS of one node hosting 50 replicas
 * and 10 attached volumes.
 *
 *   npx tsx dataplane/bench/engine-bench.ts [--runtime S] [--repeat N] [--size MiB] [--dir DIR]
 *        [--only NAME] [--skip-fio] [--skip-rebuild] [--skip-rss] [--rebuild-size MiB]
 *        [--replicas 1,3]   ("1c": one replica, reads copied as before zero-copy replies)
 * (run `npm run build` first: the engine and replica servers run from dist/)
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../src/cli/detached-process.js';
import { addReplica, listReplicas, volumeDown, volumeUp } from '../src/cli/local-volume.js';
import { parseReplicaAddress } from '../src/net/replica-address.js';
import { ReplicaClient } from '../src/protocol/client.js';
import { directRebuildRun } from './direct-rebuild-run.js';
import { type FioSample, fill, fioSample, run, WORKLOADS, type Workload } from './fio-runner.js';
import { measureNodeRss } from './node-rss.js';
import { cpuUs } from './proc-cpu.js';

const { values } = parseArgs({
  options: {
    runtime: { type: 'string', default: '4' },
    repeat: { type: 'string', default: '1' },
    size: { type: 'string', default: '1024' },
    dir: { type: 'string', default: '/tmp/engine-bench' },
    only: { type: 'string' },
    'skip-fio': { type: 'boolean', default: false },
    'skip-rebuild': { type: 'boolean', default: false },
    'skip-rss': { type: 'boolean', default: false },
    'rebuild-size': { type: 'string', default: '2048' },
    replicas: { type: 'string', default: '1,3' },
  },
});
const runtime = Number(values.runtime);
const repeat = Number(values.repeat);
const MiB = 1024 * 1024;
const size = Number(values.size) * MiB;
const dir = values.dir!;
const workloads = values.only ? WORKLOADS.filter((w) => w.name.includes(values.only!)) : WORKLOADS;

type Target = { label: string; uri: string; pids: number[]; stop: () => Promise<void> };

/** Engine and replica-server processes started for the volume under `vdir`. */
function volumePids(vdir: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmd.includes(`${vdir}/`) && /engine-main|replica-server-main/.test(cmd)) pids.push(Number(name));
  }
  return pids;
}

type Sample = FioSample & { cpuUsPerIo: number };

async function measure(t: Target, w: Workload): Promise<Sample> {
  const before = cpuUs(t.pids);
  const s = await fioSample(t.uri, w, runtime, size);
  return { ...s, cpuUsPerIo: (cpuUs(t.pids) - before) / Math.max(s.ios, 1) };
}

function better(w: Workload, a: Sample | null, b: Sample): Sample {
  if (!a) return b;
  return (w.metric === 'lat_us' ? b.value < a.value : b.value > a.value) ? b : a;
}

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
    pids: child.pid ? [child.pid] : [],
    stop: async () => {
      child.kill('SIGTERM');
    },
  };
}

/**
 * Our volume with `spec` replicas ("1", "3"); "1c" is one replica whose engine copies every
 * read (LONGHORN_ZERO_COPY=0), the path before zero-copy read replies, for a same-run A/B.
 */
async function engineTarget(spec: string): Promise<Target> {
  const replicas = Number.parseInt(spec, 10);
  const copying = spec.endsWith('c');
  const vdir = join(dir, `vol-${spec}`);
  // The volume's processes inherit the environment they start with.
  const before = process.env.LONGHORN_ZERO_COPY;
  if (copying) process.env.LONGHORN_ZERO_COPY = '0';
  let uri: string;
  try {
    uri = await volumeUp({ dir: vdir, replicas, size });
  } finally {
    if (before === undefined) delete process.env.LONGHORN_ZERO_COPY;
    else process.env.LONGHORN_ZERO_COPY = before;
  }
  const pids = volumePids(vdir);
  return {
    label: `ours ${spec} replica${replicas > 1 ? 's' : ''}${copying ? ' (copying reads)' : ''}`,
    uri,
    pids,
    stop: () => volumeDown(vdir),
  };
}

async function throughput(): Promise<Record<string, Record<string, number>>> {
  const targets = [await nbdkitTarget()];
  for (const spec of values.replicas!.split(',')) targets.push(await engineTarget(spec.trim()));
  const table: Record<string, Record<string, number>> = {};
  try {
    for (const t of targets) await fill(t.uri, size);
    for (const w of workloads) {
      const row: Record<string, number> = {};
      for (const t of targets) {
        let best: Sample | null = null;
        for (let i = 0; i < repeat; i++) best = better(w, best, await measure(t, w));
        row[t.label] = best!.value;
        row[`cpu us/io ${t.label}`] = best!.cpuUsPerIo;
      }
      const base = row['nbdkit file']!;
      let line = `${w.name.padEnd(18)} ${w.metric.padEnd(6)} nbdkit ${base.toFixed(1).padStart(9)}`;
      let cpu = `  cpu us/io nbdkit ${row['cpu us/io nbdkit file']!.toFixed(0)}`;
      for (const t of targets.slice(1)) {
        const n = t.label.split(' ')[1];
        row[`ratio ${n}r`] = row[t.label]! / base;
        line += `  ${n}r ${row[t.label]!.toFixed(1).padStart(9)} (${row[`ratio ${n}r`]!.toFixed(2)}x)`;
        cpu += ` ${n}r ${row[`cpu us/io ${t.label}`]!.toFixed(0)}`;
      }
      table[w.name] = row;
      console.log(line + cpu);
    }
    const wr = table['4k randwrite QD32'];
    if (wr?.['ours 3 replicas'] && wr['ours 1 replica'])
      console.log(
        `3-replica 4k randwrite IOPS / 1-replica: ${(wr['ours 3 replicas']! / wr['ours 1 replica']!).toFixed(2)}x`,
      );
  } finally {
    for (const t of targets) await t.stop();
  }
  return table;
}

/** The file under `root` holding the most data (the source replica's data layer after the fill). */
function largestFile(root: string): string {
  let best = { path: '', size: -1 };
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const size = statSync(p).blocks; // allocated, not apparent: every layer file is volume-sized
        if (size > best.size) best = { path: p, size };
      }
    }
  };
  walk(root);
  return best.path;
}

/**
 * The anchor for the rebuild figure, on the same disk in the same run: dd copying the source's
 * data layer (`conv=sparse`: holes stay holes, as in a rebuild) into a new file with O_DIRECT
 * and fdatasync'ing it, as the rebuild's target writes and commits.
 */
async function plainCopy(vdir: string): Promise<number> {
  // The engine's local replica (the rebuild's source), whose data the page cache holds.
  const src = largestFile(join(vdir, 'node-1', 'local'));
  const dst = join(dir, 'plain-copy.img');
  const t0 = performance.now();
  await run('dd', [
    `if=${src}`,
    `of=${dst}`,
    'bs=2M',
    'oflag=direct',
    'conv=sparse,fdatasync',
    'status=none',
  ]);
  const seconds = (performance.now() - t0) / 1000;
  await rm(dst, { force: true });
  return seconds;
}

/** Where the target's last sync job spent its time (its agent keeps the status after the job). */
async function syncPhases(vdir: string): Promise<Record<string, number> | undefined> {
  const rows = await listReplicas(vdir);
  const row = rows[rows.length - 1]!;
  const client = await ReplicaClient.connect(parseReplicaAddress(row.address), row.id, { connections: 1 });
  try {
    const st = await client.syncProgress();
    // idle: the engine copied the layers itself (its own local replica was the source).
    return st.state === 'idle' ? undefined : st.phaseMs;
  } catch {
    return undefined;
  } finally {
    await client.close();
  }
}

/**
 * Rebuild of a half-full volume: time from add-replica until the new replica is RW, beside a
 * plain copy of the same data on the same disk (the anchor).
 */
async function rebuild(): Promise<Record<string, unknown>> {
  const rsize = Number(values['rebuild-size']) * MiB;
  const vdir = join(dir, 'rebuild');
  const uri = await volumeUp({ dir: vdir, replicas: 1, size: rsize });
  try {
    await fill(uri, rsize / 2);
    const pids = volumePids(vdir);
    const cpu0 = cpuUs(pids);
    const t0 = performance.now();
    await addReplica(vdir);
    const seconds = (performance.now() - t0) / 1000;
    const cpuSeconds = (cpuUs(pids) - cpu0) / 1e6;
    const rows = await listReplicas(vdir);
    if (!rows.every((r) => r.mode === 'RW')) throw new Error(`rebuild left ${JSON.stringify(rows)}`);
    const phaseMs = await syncPhases(vdir);
    const plainSeconds = await plainCopy(vdir);
    const mib = rsize / 2 / MiB;
    const result = {
      bytes: rsize / 2,
      seconds,
      MiBps: mib / seconds,
      cpuSeconds,
      phaseMs,
      plainCopySeconds: plainSeconds,
      plainCopyMiBps: mib / plainSeconds,
      ratio: plainSeconds / seconds,
    };
    console.log(
      `rebuild: ${mib.toFixed(0)} MiB of data in ${seconds.toFixed(2)} s = ${result.MiBps.toFixed(0)} MiB/s ` +
        `(${cpuSeconds.toFixed(2)} s CPU of the servers; ` +
        `${phaseMs ? `replica to replica, phases ${JSON.stringify(phaseMs)}` : 'engine-side copy'}); ` +
        `plain copy (dd oflag=direct, fdatasync) ${plainSeconds.toFixed(2)} s = ${result.plainCopyMiBps.toFixed(0)} MiB/s; ` +
        `ratio ${result.ratio.toFixed(2)}x`,
    );
    return result;
  } finally {
    await volumeDown(vdir);
  }
}

/** The same amount of data rebuilt replica to replica (two replica servers, see the module). */
async function rebuildDirect(): Promise<Record<string, unknown>> {
  const rsize = Number(values['rebuild-size']) * MiB;
  const r = await directRebuildRun(join(dir, 'direct'), rsize, rsize / 2, cpuUs);
  console.log(
    `rebuild replica to replica: ${(rsize / 2 / MiB).toFixed(0)} MiB of data in ${r.seconds.toFixed(2)} s = ` +
      `${r.MiBps.toFixed(0)} MiB/s (${r.cpuSeconds.toFixed(2)} s CPU of the servers; phases ${JSON.stringify(r.phaseMs)})`,
  );
  return { ...r };
}

async function main(): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const results: Record<string, unknown> = { bench: 'engine', runtimeSeconds: runtime, sizeMiB: size / MiB };
  try {
    if (!values['skip-fio'] && workloads.length > 0) results.fio = await throughput();
    if (!values['skip-rebuild']) {
      results.rebuild = await rebuild();
      results.rebuildDirect = await rebuildDirect();
    }
    if (!values['skip-rss']) results.nodeRss = await measureNodeRss(join(dir, 'rss'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  console.log(JSON.stringify(results, null, 2));
}

await main();
