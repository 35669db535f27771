import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Cluster, ClusterAlreadyRunningError, liveProcesses, stopClusterInDir } from '../harness/cluster.js';
import { readClusterState } from '../harness/cluster-state.js';
import { probeOk } from '../harness/http-probe.js';
import { takeOverSignals } from '../harness/managed-process.js';

const USAGE = `usage:
  longhorn-local cluster up --dir DIR [--nodes N] [--apply PATH]...   start in the background;
                                                   prints the kubeconfig path last
  longhorn-local cluster down --dir DIR            stop everything started for DIR
  longhorn-local cluster run [--dir DIR] [--nodes N] [--apply PATH]...  start in the foreground;
                                                   Ctrl-C tears it down
  longhorn-local cluster status --dir DIR          what runs for DIR
--apply: manifest files or directories applied once the API answers (e.g. CRDs).`;

interface Flags {
  dir?: string;
  nodes: number;
  apply: string[];
}

function parse(args: string[]): Flags {
  const { values } = parseArgs({
    args,
    options: {
      dir: { type: 'string' },
      nodes: { type: 'string' },
      apply: { type: 'string', multiple: true },
    },
    strict: true,
  });
  const nodes = values.nodes === undefined ? 3 : Number(values.nodes);
  if (!Number.isInteger(nodes) || nodes < 1)
    throw new Error(`--nodes must be a positive integer, not ${values.nodes}`);
  return { dir: values.dir, nodes, apply: values.apply ?? [] };
}

function requireDir(flags: Flags, command: string): string {
  if (!flags.dir) throw new Error(`cluster ${command} needs --dir DIR`);
  return resolve(flags.dir);
}

async function apiAnswers(dir: string): Promise<string | undefined> {
  const state = await readClusterState(dir);
  if (!state?.ready || liveProcesses(state).length < state.processes.length) return undefined;
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
      outliveParent: true,
    });
    console.log(
      `cluster up in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${flags.nodes} node${flags.nodes === 1 ? '' : 's'}, API ${cluster.apiServer}`,
    );
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
  const live = new Set(liveProcesses(state).map((p) => p.pid));
  for (const p of state.processes)
    console.log(`${live.has(p.pid) ? 'running' : 'stopped'}\t${p.pid}\t${p.name}`);
  console.log(state.kubeconfig);
  return live.size === state.processes.length && state.ready ? 0 : 1;
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
  cluster = await Cluster.start({ dir, nodes: flags.nodes, manifests: flags.apply });
  console.log(
    `cluster up in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${flags.nodes} node${flags.nodes === 1 ? '' : 's'}, API ${cluster.apiServer}`,
  );
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
