import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { NAMESPACE } from '@longhorn-ts/api';
import { binaryPath } from '../harness/binaries.js';
import { readClusterState } from '../harness/cluster-state.js';
import { Kubectl } from '../harness/kubectl.js';
import { listDataPlaneProcesses } from '../harness/longhorn-system.js';
import {
  apiTicketId,
  apiTicketYaml,
  applyYaml,
  condition,
  getVolume,
  isAttachedHealthy,
  LH,
  removeTicket,
  replicasOf,
  snapshotYaml,
  volumeYaml,
  waitForEndpoint,
  waitForVolume,
} from '../harness/longhorn-volumes.js';
import { waitFor } from '../harness/wait.js';

const exec = promisify(execFile);
const VOLUME = 'tour-vol';
const SNAPSHOT = 'tour-snap-1';

function show(command: string): void {
  console.log(`\n$ ${command}`);
}

async function runShown(cmd: string, args: string[]): Promise<string> {
  show(`${cmd} ${args.map((a) => (/[\s']/.test(a) ? `'${a}'` : a)).join(' ')}`);
  const { stdout } = await exec(cmd, args, { timeout: 120_000 });
  console.log(stdout.trimEnd());
  return stdout;
}

async function kubectlShown(kubectl: Kubectl, args: string[]): Promise<void> {
  show(`kubectl ${args.join(' ')}`);
  console.log((await kubectl.run(args)).trimEnd());
}

/** `kubectl longhorn ...` through the real kubectl, the plugin's directory on PATH. */
async function pluginShown(kubeconfig: string, args: string[]): Promise<void> {
  show(`kubectl longhorn ${args.join(' ')}`);
  const { stdout } = await exec(binaryPath('kubectl'), ['longhorn', ...args], {
    timeout: 120_000,
    env: { ...process.env, KUBECONFIG: kubeconfig, PATH: `${PLUGIN_BIN}:${process.env.PATH ?? ''}` },
  });
  console.log(stdout.trimEnd());
}

const PLUGIN_BIN = fileURLToPath(new URL('../../../plugins/kubectl-longhorn/bin', import.meta.url));

async function applyShown(kubectl: Kubectl, yaml: string): Promise<void> {
  show(`kubectl apply -f - <<EOF\n${yaml}EOF`);
  console.log((await applyYaml(kubectl, yaml)).trimEnd());
}

/** A tour-vol left by an earlier tour on the same cluster goes first. */
async function removeEarlierVolume(kubectl: Kubectl): Promise<void> {
  if (!(await getVolume(kubectl, VOLUME))) return;
  console.log(`removing ${VOLUME} left by an earlier tour ...`);
  await kubectl.run(['delete', LH.snapshots, '-n', NAMESPACE, '--ignore-not-found', SNAPSHOT]);
  await kubectl.run(['delete', LH.attachments, '-n', NAMESPACE, '--ignore-not-found', VOLUME]);
  await kubectl.run(['delete', LH.volumes, '-n', NAMESPACE, '--ignore-not-found', '--wait=true', VOLUME], {
    timeoutMs: 120_000,
  });
}

/**
 * `longhorn-local cluster tour --dir DIR [--once]`: on a cluster started by `cluster up`, what a
 * new user does first: a Volume from YAML, replicas on three nodes, an attachment ticket, bytes
 * written and read over the engine's NBD endpoint, a Snapshot CR, and the objects as kubectl
 * shows them. Without --once it then waits for Ctrl-C (the volume stays attached).
 */
export async function tour(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { dir: { type: 'string' }, once: { type: 'boolean', default: false } },
    strict: true,
  });
  if (!values.dir) throw new Error('cluster tour needs --dir DIR (a cluster started by `cluster up`)');
  const dir = resolve(values.dir);
  const state = await readClusterState(dir);
  if (!state?.ready)
    throw new Error(`no running cluster in ${dir}: start one with \`cluster up --dir ${dir}\``);
  if (!state.longhorn) throw new Error(`the cluster in ${dir} runs without longhorn-ts (--no-longhorn)`);
  const kubectl = new Kubectl(state.kubeconfig);
  const node = state.nodes[0]!.name;
  console.log(`export KUBECONFIG=${state.kubeconfig}`);

  await kubectlShown(kubectl, ['-n', NAMESPACE, 'get', 'lhn']);
  await removeEarlierVolume(kubectl);

  // 1. A Volume, as a Longhorn user writes it.
  const replicas = Math.min(3, state.nodes.length);
  await applyShown(kubectl, volumeYaml(VOLUME, { size: String(64 << 20), numberOfReplicas: replicas }));
  console.log(`\nwaiting for ${replicas} replicas to be scheduled ...`);
  await waitForVolume(kubectl, VOLUME, 'scheduled', (v) => condition(v, 'Scheduled')?.status === 'True');
  await waitFor('the replicas to be placed', async () => {
    const placed = (await replicasOf(kubectl, VOLUME)).filter((r) => r.spec.nodeID);
    return placed.length === replicas;
  });
  await kubectlShown(kubectl, ['-n', NAMESPACE, 'get', 'lhr', '-l', `longhornvolume=${VOLUME}`]);

  // 2. Attach it to a node with a ticket of the Longhorn API.
  await applyShown(kubectl, apiTicketYaml(VOLUME, node));
  console.log(`\nwaiting for ${VOLUME} to be attached to ${node} ...`);
  await waitForVolume(kubectl, VOLUME, `attached to ${node} and healthy`, isAttachedHealthy(node), 120_000);
  const uri = await waitForEndpoint(kubectl, VOLUME);
  console.log(`the engine serves ${uri}`);

  // 3. Bytes over NBD, as any NBD client sees them.
  await runShown('nbdinfo', [uri]);
  await runShown('qemu-io', ['-f', 'raw', '-c', 'write -P 0xa5 0 4M', '-c', 'read -P 0xa5 0 4M', uri]);

  // 4. A snapshot as a CR.
  await applyShown(kubectl, snapshotYaml(SNAPSHOT, VOLUME));
  await kubectl.waitForObject<{ status?: { readyToUse?: boolean } }>(
    LH.snapshots,
    SNAPSHOT,
    (s) => s.status?.readyToUse === true,
    { namespace: NAMESPACE },
  );
  await runShown('qemu-io', ['-f', 'raw', '-c', 'write -P 0x5a 4096 8192', uri]);

  await kubectlShown(kubectl, ['-n', NAMESPACE, 'get', 'lhv,lhe,lhr,lhsnap']);

  // 5. The same through the kubectl plugin (kubectl finds kubectl-longhorn on PATH).
  await pluginShown(state.kubeconfig, ['volume', 'list']);
  await pluginShown(state.kubeconfig, ['volume', 'get', VOLUME]);

  console.log('\nwhat the instance managers run for it (`longhorn-local cluster status` shows the same):');
  for (const spec of state.nodes) {
    const address = state.longhorn[spec.name]?.instanceManager;
    if (!address) continue;
    const processes = await listDataPlaneProcesses(address).catch(() => []);
    for (const p of processes)
      console.log(`  ${spec.name}  ${p.kind.padEnd(14)}  pid ${p.pid}  ${p.state}  ${p.name}`);
  }

  if (values.once) return 0;
  console.log(`\nthe volume stays attached: try  nbdinfo ${uri}`);
  console.log(`  kubectl -n ${NAMESPACE} get lhv,lhe,lhr,lhsnap,lhva     (KUBECONFIG as above)`);
  console.log(
    `  kubectl -n ${NAMESPACE} patch lhva ${VOLUME} --type=merge -p '{"spec":{"attachmentTickets":{"longhorn-api-${VOLUME}":null}}}'   (detach)`,
  );
  console.log('Ctrl-C stops it.');
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  await removeTicket(kubectl, VOLUME, apiTicketId(VOLUME)).catch(() => undefined);
  return 0;
}
