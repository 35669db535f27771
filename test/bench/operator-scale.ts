/**
 * Operator scale benchmark (issue 8): on a 3-node local cluster with longhorn-ts,
 *   1. N Volumes (default 100) created at once: seconds until every one is scheduled
 *      (Scheduled=True and its replicas exist);
 *   2. M of them (default 20) attached at once by Longhorn API tickets: seconds until all are
 *      attached and healthy;
 *   3. each node's operator CPU seconds and RSS (peak and at the end), sampled from /proc
 *      throughout.
 *
 *   npx tsx test/bench/operator-scale.ts [--volumes 100] [--attach 20] [--size 16777216] [--keep]
 * (run `npx tsc -b` first: the cluster runs the compiled operator). Prints a table and JSON.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Cluster } from '../src/harness/cluster.js';
import type { KubeObject } from '../src/harness/kubectl.js';
import { apiTicketYaml, LH, volumeYaml } from '../src/harness/longhorn-volumes.js';
import { waitFor } from '../src/harness/wait.js';

const { values } = parseArgs({
  options: {
    volumes: { type: 'string', default: '100' },
    attach: { type: 'string', default: '20' },
    size: { type: 'string', default: String(16 * 1024 * 1024) },
    keep: { type: 'boolean', default: false },
  },
});
const volumes = Number(values.volumes);
const attach = Math.min(volumes, Number(values.attach));
const NS = 'longhorn-system';
const TICK_S = 1 / 100; // USER_HZ

interface Usage {
  cpuSeconds: number;
  rssMiB: number;
}

function usage(pid: number): Usage | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { cpuSeconds: (Number(stat[11]) + Number(stat[12])) * TICK_S, rssMiB: rssKb / 1024 };
  } catch {
    return undefined;
  }
}

interface Status {
  status?: { state?: string; robustness?: string; conditions?: { type: string; status: string }[] };
}

const dir = await mkdtemp(join(tmpdir(), 'lh-scale-'));
const cluster = await Cluster.start({ dir, nodes: 3, longhorn: true, timeoutMs: 180_000 });
const operators = cluster.longhorn.nodes.map((n) => ({ node: n.name, pid: n.operator!.pid }));
const peak = new Map<string, number>();
const sampler = setInterval(() => {
  for (const o of operators) {
    const u = usage(o.pid);
    if (u) peak.set(o.node, Math.max(peak.get(o.node) ?? 0, u.rssMiB));
  }
}, 500);
const before = new Map(operators.map((o) => [o.node, usage(o.pid)]));

try {
  const names = Array.from({ length: volumes }, (_, i) => `scale-${String(i).padStart(3, '0')}`);
  const t0 = Date.now();
  await cluster.kubectl.run(['apply', '-f', '-'], {
    input: names.map((n) => volumeYaml(n, { size: values.size!, numberOfReplicas: 3 })).join('---\n'),
  });
  const applied = (Date.now() - t0) / 1000;
  await waitFor(
    `${volumes} volumes scheduled`,
    async () => {
      const list = await cluster.kubectl.list<KubeObject & Status>(LH.volumes, NS);
      const scheduled = list.filter((v) =>
        v.status?.conditions?.some((c) => c.type === 'Scheduled' && c.status === 'True'),
      ).length;
      const replicas = (await cluster.kubectl.list<KubeObject>(LH.replicas, NS)).length;
      return scheduled >= volumes && replicas >= 3 * volumes;
    },
    { timeoutMs: 600_000, maxIntervalMs: 1000 },
  );
  const scheduledS = (Date.now() - t0) / 1000;

  const toAttach = names.slice(0, attach);
  const t1 = Date.now();
  await cluster.kubectl.run(['apply', '-f', '-'], {
    input: toAttach.map((n, i) => apiTicketYaml(n, `node-${(i % 3) + 1}`)).join('---\n'),
  });
  await waitFor(
    `${attach} volumes attached and healthy`,
    async () => {
      const list = await cluster.kubectl.list<KubeObject & Status>(LH.volumes, NS);
      const set = new Set(toAttach);
      return (
        list.filter(
          (v) =>
            set.has(v.metadata.name) && v.status?.state === 'attached' && v.status.robustness === 'healthy',
        ).length >= attach
      );
    },
    { timeoutMs: 600_000, maxIntervalMs: 1000 },
  );
  const healthyS = (Date.now() - t1) / 1000;

  const rows = operators.map((o) => {
    const end = usage(o.pid);
    const start = before.get(o.node);
    return {
      node: o.node,
      cpuSeconds: Number(((end?.cpuSeconds ?? 0) - (start?.cpuSeconds ?? 0)).toFixed(1)),
      rssMiBEnd: Math.round(end?.rssMiB ?? 0),
      rssMiBPeak: Math.round(peak.get(o.node) ?? 0),
    };
  });
  console.log(`volumes created at once: ${volumes} (kubectl apply took ${applied.toFixed(1)} s)`);
  console.log(`all scheduled after:     ${scheduledS.toFixed(1)} s (goal <= 30 s)`);
  console.log(`attached at once:        ${attach}; all healthy after ${healthyS.toFixed(1)} s`);
  console.log('node     operator CPU s  RSS MiB (end / peak; goal <= 150)');
  for (const r of rows)
    console.log(`${r.node.padEnd(8)} ${String(r.cpuSeconds).padStart(14)}  ${r.rssMiBEnd} / ${r.rssMiBPeak}`);
  console.log(JSON.stringify({ volumes, attach, scheduledS, healthyS, operators: rows }, null, 2));
} finally {
  clearInterval(sampler);
  await cluster.stop();
  if (!values.keep) await rm(dir, { recursive: true, force: true });
}
