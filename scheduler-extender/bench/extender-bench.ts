/**
 * Extender latency: filter + prioritize for one pod, p50/p99, with 100 and 1000 nodes and 1000
 * Longhorn volumes (3 replicas each, 1000 scheduled pods in 50 StatefulSets) cached. Measured
 * twice: the pure verbs in-process, and over HTTP on 127.0.0.1 as kube-scheduler calls them
 * (keep-alive, JSON both ways). Goal: p99 < 5 ms at 100 nodes. Wall-clock tails on a loaded
 * machine are mostly waits for a core, so the CPU time per call is printed beside them.
 *
 *   npx tsx scheduler-extender/bench/extender-bench.ts [--iterations 2000]
 */
import { Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { V1Node, V1PersistentVolume, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import {
  type DataLocality,
  LONGHORN_API_VERSION,
  NAMESPACE,
  type Replica,
  type Volume,
} from '@longhorn-ts/api';
import { pino } from 'pino';
import { StaticClusterView } from '../src/cluster-view.js';
import { filter, prioritize } from '../src/extender.js';
import type { CheckedArgs } from '../src/extender-api.js';
import { createExtenderServer } from '../src/server.js';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '2000' } } });
const ITERATIONS = Number(values.iterations);
const VOLUMES = 1000;
const LOCALITIES: DataLocality[] = ['strict-local', 'best-effort', 'disabled'];

function world(nodeCount: number) {
  const nodes: V1Node[] = Array.from({ length: nodeCount }, (_, i) => ({
    metadata: { name: `node-${i}`, labels: { 'topology.kubernetes.io/zone': `zone-${i % 3}` } },
  }));
  const pvcs: V1PersistentVolumeClaim[] = [];
  const pvs: V1PersistentVolume[] = [];
  const volumes: Volume[] = [];
  const replicas: Replica[] = [];
  const pods: V1Pod[] = [];
  for (let v = 0; v < VOLUMES; v++) {
    const name = `pvc-${v.toString(16).padStart(8, '0')}`;
    const claim = `data-sts-${v % 50}-${Math.floor(v / 50)}`;
    pvcs.push({ metadata: { name: claim, namespace: 'default' }, spec: { volumeName: name } });
    pvs.push({ metadata: { name }, spec: { csi: { driver: 'driver.longhorn.io', volumeHandle: name } } });
    volumes.push({
      apiVersion: LONGHORN_API_VERSION,
      kind: 'Volume',
      metadata: { name, namespace: NAMESPACE },
      spec: { dataLocality: LOCALITIES[v % 3] },
    });
    for (let r = 0; r < 3; r++)
      replicas.push({
        apiVersion: LONGHORN_API_VERSION,
        kind: 'Replica',
        metadata: { name: `${name}-r-${r}`, namespace: NAMESPACE },
        spec: { volumeName: name, nodeID: `node-${(v * 7 + r * 13) % nodeCount}` },
        status: { currentState: 'running' },
      });
    pods.push(stsPod(v % 50, Math.floor(v / 50), claim, `node-${(v * 7) % nodeCount}`));
  }
  return new StaticClusterView({ nodes, pvcs, pvs, volumes, replicas, pods });
}

function stsPod(sts: number, ordinal: number, claim: string, nodeName?: string): V1Pod {
  return {
    metadata: {
      name: `sts-${sts}-${ordinal}`,
      namespace: 'default',
      uid: `pod-${sts}-${ordinal}`,
      labels: { app: `sts-${sts}` },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'StatefulSet',
          name: `sts-${sts}`,
          uid: `sts-${sts}`,
          controller: true,
        },
      ],
    },
    spec: {
      containers: [{ name: 'app', image: 'busybox' }],
      ...(nodeName && { nodeName }),
      volumes: [{ name: 'data', persistentVolumeClaim: { claimName: claim } }],
    },
    status: { phase: nodeName ? 'Running' : 'Pending' },
  };
}

/** The pods asked about: one per locality (their claims are volumes 0, 1, 2), a new StatefulSet ordinal each. */
function askedPods(): V1Pod[] {
  return [0, 1, 2].map((v) => stsPod(v, 1000, `data-sts-${v}-0`));
}

/** CPU time (user + system) of this process since `start`, in ms: what the work costs without the waits for a core. */
function cpuMs(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function summary(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  return `p50 ${percentile(sorted, 50).toFixed(3)} ms  p99 ${percentile(sorted, 99).toFixed(3)} ms  max ${sorted.at(-1)?.toFixed(3)} ms`;
}

function post(agent: Agent, port: number, path: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          res.statusCode === 200
            ? resolve(Buffer.concat(chunks).toString())
            : reject(new Error(`HTTP ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function run(nodeCount: number): Promise<void> {
  const view = world(nodeCount);
  const nodeNames = Array.from({ length: nodeCount }, (_, i) => `node-${i}`);
  const pods = askedPods();
  const argsOf = (i: number): CheckedArgs => ({ pod: pods[i % pods.length] as V1Pod, nodeNames });

  // Sanity: the strict-local pod is filtered to its replicas' nodes.
  const kept = filter(argsOf(0), view).NodeNames?.length;
  console.log(
    `\n${nodeCount} nodes, ${VOLUMES} volumes, ${VOLUMES * 3} replicas, ${VOLUMES} scheduled pods (strict-local pod kept on ${kept} nodes)`,
  );

  const inProcess: number[] = [];
  const inProcessCpu: number[] = [];
  for (let i = 0; i < ITERATIONS + 200; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    filter(argsOf(i), view);
    prioritize(argsOf(i), view);
    if (i < 200) continue;
    inProcess.push(performance.now() - t0);
    inProcessCpu.push(cpuMs(c0));
  }
  console.log(`  in-process filter+prioritize, wall: ${summary(inProcess)}`);
  console.log(`  in-process filter+prioritize, CPU:  ${summary(inProcessCpu)}`);

  const server = createExtenderServer({ view, logger: pino({ level: 'silent' }) });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const bodies = pods.map((pod) => JSON.stringify({ Pod: pod, NodeNames: nodeNames }));
  const http: number[] = [];
  const httpCpu: number[] = [];
  try {
    for (let i = 0; i < ITERATIONS + 200; i++) {
      const body = bodies[i % bodies.length] as string;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await post(agent, port, '/filter', body);
      await post(agent, port, '/prioritize', body);
      if (i < 200) continue;
      http.push(performance.now() - t0);
      httpCpu.push(cpuMs(c0));
    }
  } finally {
    agent.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  console.log(`  HTTP filter+prioritize (2 round trips), wall: ${summary(http)}`);
  console.log(`  HTTP, CPU of client and server together:     ${summary(httpCpu)}`);
}

console.log(
  `scheduler-extender latency, ${ITERATIONS} iterations each (node ${process.version}, load average ${loadavg()[0]?.toFixed(1)} on ${availableParallelism()} cores)`,
);
for (const n of [100, 1000]) await run(n);
