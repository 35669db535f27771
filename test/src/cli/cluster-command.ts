import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Cluster, ClusterAlreadyRunningError, currentRecords, stopClusterInDir } from '../harness/cluster.js';
import { readClusterState } from '../harness/cluster-state.js';
import { probeOk } from '../harness/http-probe.js';
import { listDataPlaneProcesses } from '../harness/longhorn-system.js';
import { groupAlive, takeOverSignals } from '../harness/managed-process.js';
import { tour } from './tour.js';

const USAGE = `usage:
  longhorn-local cluster up --dir DIR [--nodes N] [--apply PATH]... [--no-longhorn]
                                                   start in the background; prints the
                                                   kubeconfig path last
  longhorn-local cluster down --dir DIR            stop everything started for DIR
  longhorn-local cluster run [--dir DIR] [--nodes N] [--apply PATH]... [--no-longhorn]
                                                   start in the foreground; Ctrl-C tears it down
  longhorn-local cluster status --dir DIR          what runs for DIR, per node
  longhorn-local cluster tour --dir DIR [--once]   the README's tour on a running cluster: a
                                                   PVC, a Pod, a file in its mount, a
                                                   VolumeSnapshot, a PVC restored from it
--apply: manifest files or directories applied once the API answers (e.g. CRDs).
--no-longhorn: a bare control plane (no CRDs, no instance managers, no operators).`;

interface Flags {
  dir?: string;
  nodes: number;
  apply: string[];
  longhorn: boolean;
}

function parse(args: string[]): Flags {
  const { values } = parseArgs({
    args,
    options: {
      dir: { type: 'string' },
      nodes: { type: 'string' },
      apply: { type: 'string', multiple: true },
      'no-longhorn': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const nodes = values.nodes === undefined ? 3 : Number(values.nodes);
  if (!Number.isInteger(nodes) || nodes < 1)
    throw new Error(`--nodes must be a positive integer, not ${values.nodes}`);
  return { dir: values.dir, nodes, apply: values.apply ?? [], longhorn: !values['no-longhorn'] };
}

function requireDir(flags: Flags, command: string): string {
  if (!flags.dir) throw new Error(`cluster ${command} needs --dir DIR`);
  return resolve(flags.dir);
}

async function apiAnswers(dir: string): Promise<string | undefined> {
  const state = await readClusterState(dir);
  if (!state?.ready || !currentRecords(state).every((p) => groupAlive(p.pgid))) return undefined;
  const pki = join(dir, 'pki');
  try {
    await probeOk(`${state.apiServer}/readyz`, {
      ca: join(pki, 'ca.crt'),
      cert: join(pki, 'admin.crt'),
      key: join(pki, 'admin.key'),
    });
    return state.kubeconfig;
  } catch {
    return undefined;
  }
}

async function up(flags: Flags): Promise<number> {
  const dir = requireDir(flags, 'up');
  const t0 = Date.now();
  // Interrupted while starting: nothing of a half-started cluster may stay behind.
  const onSignal = () => {
    void stopClusterInDir(dir, 2_000).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const cluster = await Cluster.start({
      dir,
      nodes: flags.nodes,
      manifests: flags.apply,
      longhorn: flags.longhorn,
      outliveParent: true,
    });
    console.log(upLine(flags, cluster, t0));
    const store = backupLine(cluster);
    if (store) console.log(store);
    console.log(`logs: ${join(dir, 'logs')}; stop with: longhorn-local cluster down --dir ${dir}`);
    console.log(cluster.kubeconfig);
    return 0;
  } catch (err) {
    if (err instanceof ClusterAlreadyRunningError) {
      const kubeconfig = await apiAnswers(dir);
      if (kubeconfig) {
        console.log(`cluster already up in ${dir}`);
        console.log(kubeconfig);
        return 0;
      }
    }
    throw err;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

async function down(flags: Flags): Promise<number> {
  const dir = requireDir(flags, 'down');
  const t0 = Date.now();
  const stopped = await stopClusterInDir(dir);
  console.log(
    `cluster down in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${stopped.length} processes stopped (${dir})`,
  );
  return 0;
}

async function status(flags: Flags): Promise<number> {
  const dir = requireDir(flags, 'status');
  const state = await readClusterState(dir);
  if (!state) {
    console.log(`no cluster in ${dir}`);
    return 1;
  }
  const records = currentRecords(state);
  const alive = new Map(records.map((p) => [p.name, groupAlive(p.pgid)]));
  const line = (p: { pid: number; name: string }, shown: string, extra = '') =>
    `${alive.get(p.name) ? 'running' : 'stopped'}\t${p.pid}\t${shown}${extra ? `\t${extra}` : ''}`;
  console.log('control plane:');
  for (const p of records.filter((r) => !r.name.includes('/'))) console.log(`  ${line(p, p.name)}`);
  for (const spec of state.nodes) {
    console.log(`${spec.name} (${spec.address}, ${spec.zone}):`);
    const longhorn = state.longhorn?.[spec.name];
    for (const p of records.filter((r) => r.name.startsWith(`${spec.name}/`))) {
      const role = p.name.slice(spec.name.length + 1);
      const extra =
        role === 'instance-manager' && longhorn
          ? `gRPC ${longhorn.instanceManager}`
          : role === 'operator' && longhorn?.metrics
            ? `metrics http://${longhorn.metrics}/metrics`
            : '';
      console.log(`  ${line(p, role, extra)}`);
    }
    if (longhorn && alive.get(`${spec.name}/instance-manager`))
      console.log(await dataPlaneLines(longhorn.instanceManager));
  }
  console.log(state.kubeconfig);
  return state.ready && [...alive.values()].every(Boolean) ? 0 : 1;
}

/** The data-plane processes an instance manager runs, one line each, indented under it. */
async function dataPlaneLines(address: string): Promise<string> {
  try {
    const processes = await listDataPlaneProcesses(address);
    if (processes.length === 0) return '    (no data-plane processes)';
    return processes
      .map(
        (p) =>
          `    ${p.state}\t${p.pid}\t${p.kind} ${p.name}${p.restarts > 0 ? `\trestarts ${p.restarts}` : ''}${p.error ? `\t${p.error}` : ''}`,
      )
      .join('\n');
  } catch (err) {
    return `    (instance manager at ${address} did not answer: ${(err as Error).message})`;
  }
}

/** The backup store `cluster up` started, if any: the default backup target points at it. */
function backupLine(cluster: Cluster): string | undefined {
  try {
    const b = cluster.backupstore;
    return `backup target: ${b.targetUrl} (MinIO at ${b.endpoint}, Secret ${b.secret})`;
  } catch {
    return undefined;
  }
}

function upLine(flags: Flags, cluster: Cluster, t0: number): string {
  const what = flags.longhorn ? ', longhorn-ts on every node' : '';
  return `cluster up in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${flags.nodes} node${flags.nodes === 1 ? '' : 's'}${what}, API ${cluster.apiServer}`;
}

async function run(flags: Flags): Promise<number> {
  const ownDir = !flags.dir;
  const dir = flags.dir ? resolve(flags.dir) : await mkdtemp(join(tmpdir(), 'longhorn-local-'));
  takeOverSignals();
  const t0 = Date.now();
  let stopping = false;
  let cluster: Cluster | undefined;
  const stopped = new Promise<void>((done) => {
    const onSignal = () => {
      if (stopping) return;
      stopping = true;
      console.log('stopping the cluster...');
      void (async () => {
        await (cluster ? cluster.stop() : stopClusterInDir(dir, 2_000).then(() => undefined));
        if (ownDir) await rm(dir, { recursive: true, force: true });
      })().finally(done);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  cluster = await Cluster.start({
    dir,
    nodes: flags.nodes,
    manifests: flags.apply,
    longhorn: flags.longhorn,
  });
  console.log(upLine(flags, cluster, t0));
  const store = backupLine(cluster);
  if (store) console.log(store);
  console.log(`logs: ${join(dir, 'logs')}; Ctrl-C stops it`);
  console.log(cluster.kubeconfig);
  await stopped;
  console.log('cluster stopped');
  return 0;
}

/** `longhorn-local cluster ...`; argv[0] is 'cluster'. */
export async function main(argv: string[]): Promise<number> {
  const [, command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  if (command === 'tour') return tour(rest);
  const flags = parse(rest);
  switch (command) {
    case 'up':
      return up(flags);
    case 'down':
      return down(flags);
    case 'run':
      return run(flags);
    case 'status':
      return status(flags);
    default:
      console.error(`unknown command: cluster ${command}\n${USAGE}`);
      return 2;
  }
}
