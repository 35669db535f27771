import { existsSync, mkdirSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { removeKekFile, writeKekFile } from '../crypt/kek-handoff.js';
import { EngineClient, type VolumeView } from '../engine/engine-client.js';
import { formatQosArg } from '../engine/qos-wire.js';
import { InstanceManagerClient } from '../instance-manager/client.js';
import { parseReplicaAddress } from '../net/replica-address.js';
import { entryCommand } from '../process/entry-point.js';
import { ReplicaServerAdmin } from '../protocol/index.js';
import { hasLimits, type QosLimits, type QosStats, validateQosLimits } from '../qos/index.js';
import { cryptoSecretKek } from './crypto-secret-file.js';
import { freePort, isAlive, startDetached, stopProcess } from './detached-process.js';
import { encryptionArgs, type VolumeEncryption } from './volume-encryption.js';

/**
 * A replicated volume on simulated nodes under one directory: per node an instance manager
 * (its own process group, data directory and 127.0.0.x address) running a replica server,
 * and on the first node the volume's engine. State lives in DIR/volume.json.
 */
export interface NodeState {
  name: string;
  address: string;
  dir: string;
  imPid: number;
  imAddress: string;
  replicaServer: string;
  /** The replica server's Unix socket, for an engine on the same node. */
  replicaSocket: string;
}

export interface ReplicaState {
  id: string;
  node: string;
  address: string;
  /** Opened inside the engine process (the engine's own node), not by the replica server. */
  local?: boolean;
}

export interface VolumeState {
  volume: string;
  size: number;
  wanted: number;
  nodes: NodeState[];
  replicas: ReplicaState[];
  engine: { node: string; control: string; nbd: string; process: string };
  nextReplica: number;
  /** QoS limits of the frontend; passed to every engine start, changed online by "volume qos". */
  qos?: QosLimits;
  /** Encrypted volumes: the wrapped data key, its key id and the key file (volume-encryption.ts). */
  encryption?: VolumeEncryption;
}

const STATE = 'volume.json';
export const ENGINE_PROCESS = 'engine';
const REPLICA_SERVER_PROCESS = 'replica-server';

export async function loadState(dir: string): Promise<VolumeState> {
  const file = join(resolve(dir), STATE);
  if (!existsSync(file)) throw new Error(`no volume under ${dir} (no ${STATE}); run "volume up" first`);
  return JSON.parse(await readFile(file, 'utf8')) as VolumeState;
}

export async function saveState(dir: string, state: VolumeState): Promise<void> {
  const file = join(resolve(dir), STATE);
  await writeFile(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
}

/** Loopback address of simulated node i (0-based): 127.0.0.11, 127.0.0.12, ... */
export function nodeAddress(i: number): string {
  return `127.0.0.${11 + i}`;
}

export interface UpOptions {
  dir: string;
  replicas: number;
  size: number;
  volume?: string;
  qos?: QosLimits;
  encryption?: VolumeEncryption;
}

/** Brings the volume up (or confirms it is up) and returns its NBD URI. */
export async function volumeUp(opts: UpOptions): Promise<string> {
  const dir = resolve(opts.dir);
  if (!Number.isInteger(opts.replicas) || opts.replicas < 1 || opts.replicas > 20) {
    throw new Error(`--replicas ${opts.replicas}: expected 1..20`);
  }
  mkdirSync(dir, { recursive: true });
  if (existsSync(join(dir, STATE))) {
    const state = await loadState(dir);
    if (state.nodes.every((n) => isAlive(n.imPid))) {
      const view = await withEngine(state, (e) => e.volume());
      if (view.frontend) return view.frontend;
    }
    throw new Error(
      `a volume under ${dir} exists but is not fully up; run "volume down --dir ${opts.dir}" first`,
    );
  }
  const volume = opts.volume ?? DEFAULT_VOLUME_NAME;
  const state: VolumeState = {
    volume,
    size: opts.size,
    wanted: opts.replicas,
    nodes: [],
    replicas: [],
    engine: { node: '', control: '', nbd: '', process: ENGINE_PROCESS },
    nextReplica: 0,
    ...(opts.qos && hasLimits(opts.qos) ? { qos: validateQosLimits(opts.qos) } : {}),
    ...(opts.encryption ? { encryption: opts.encryption } : {}),
  };
  try {
    for (let i = 0; i < opts.replicas; i++) state.nodes.push(await startNode(dir, i));
    // The replica on the engine's node lives in the engine process; the others in replica servers.
    const [first, ...others] = state.nodes;
    state.replicas.push({
      id: `${volume}-r${state.nextReplica++}`,
      node: first!.name,
      address: `${first!.address}:${await freePort(first!.address)}`,
      local: true,
    });
    for (const node of others) state.replicas.push(await createReplica(state, node));
    await saveState(dir, state);
    await startEngine(dir, state);
    await saveState(dir, state);
    return state.engine.nbd;
  } catch (err) {
    await saveState(dir, state).catch(() => {});
    await volumeDown(dir).catch(() => {});
    throw err;
  }
}

export async function startNode(dir: string, i: number): Promise<NodeState> {
  const name = `node-${i + 1}`;
  const address = nodeAddress(i);
  const nodeDir = join(dir, name);
  mkdirSync(join(nodeDir, 'logs'), { recursive: true });
  const { command, args } = entryCommand('instance-manager/main');
  const im = await startDetached(
    command,
    [...args, '--node', name, '--listen', `${address}:0`, '--log-dir', join(nodeDir, 'logs')],
    join(nodeDir, 'logs', 'instance-manager.log'),
    { NODE_NAME: name },
  );
  const imAddress = String(im.ready.address);
  const client = new InstanceManagerClient(imAddress);
  try {
    const port = await freePort(address);
    const socket = join(nodeDir, 'replica.sock');
    const proc = await client.create(
      REPLICA_SERVER_PROCESS,
      'replica-server',
      [
        '--listen',
        `${address}:${port}`,
        '--socket',
        socket,
        '--data-dir',
        join(nodeDir, 'replicas'),
        '--open-existing',
      ],
      true,
    );
    const ready = JSON.parse(proc.ready) as { tcp: { host: string; port: number } };
    return {
      name,
      address,
      dir: nodeDir,
      imPid: im.pid,
      imAddress,
      replicaServer: `${ready.tcp.host}:${ready.tcp.port}`,
      replicaSocket: socket,
    };
  } finally {
    client.close();
  }
}

async function createReplica(state: VolumeState, node: NodeState): Promise<ReplicaState> {
  const id = `${state.volume}-r${state.nextReplica++}`;
  const admin = await ReplicaServerAdmin.connect(parseReplicaAddress(node.replicaServer));
  try {
    await admin.create(id, { size: state.size });
  } finally {
    await admin.disconnect();
  }
  // The engine runs on the first node and reaches a replica there over its Unix socket.
  const local = node.name === state.nodes[0]!.name;
  return { id, node: node.name, address: local ? `unix:${node.replicaSocket}` : node.replicaServer };
}

/** The volume's name when `volume up` is given none. */
export const DEFAULT_VOLUME_NAME = 'vol';

/** Starts the volume's engine; `keyFile` overrides the remembered KEK file of an encrypted volume. */
export async function startEngine(dir: string, state: VolumeState, keyFile?: string): Promise<void> {
  const node = state.nodes[0]!;
  // A KEK from a crypto secret file (keyFile then names that file) goes over in a 0600 file.
  let handoff: string | undefined;
  if (state.encryption?.cryptoSecret) {
    const kek = await cryptoSecretKek(state.volume, state.encryption, keyFile);
    try {
      handoff = await writeKekFile(join(dir, 'run'), ENGINE_PROCESS, kek);
    } finally {
      kek.fill(0);
    }
  }
  const client = new InstanceManagerClient(node.imAddress);
  try {
    const nbdPort = await freePort(node.address);
    const controlPort = await freePort(node.address);
    const proc = await client.create(
      ENGINE_PROCESS,
      'engine',
      [
        '--volume',
        state.volume,
        ...state.replicas.flatMap((r) => ['--replica', `${r.id}=${r.address}`]),
        '--listen',
        `${node.address}:${nbdPort}`,
        '--control',
        `${node.address}:${controlPort}`,
        '--wanted',
        String(state.wanted),
        '--state-file',
        join(dir, 'engine-members.json'),
        ...(state.qos ? ['--qos', formatQosArg(state.qos)] : []),
        ...encryptionArgs(state.encryption, handoff ?? keyFile),
        ...state.replicas
          .filter((r) => r.local)
          .flatMap((r) => [
            '--local-replica',
            `${r.id}=${join(node.dir, 'local', r.id)}`,
            '--local-size',
            String(state.size),
            '--local-listen',
            r.address,
          ]),
      ],
      true,
    );
    const ready = JSON.parse(proc.ready) as { nbd: string; control: string };
    state.engine = { node: node.name, control: ready.control, nbd: ready.nbd, process: ENGINE_PROCESS };
  } finally {
    client.close();
    if (handoff) await removeKekFile(handoff);
  }
}

/** Stops everything started for DIR: engine first (clean flush), then each node. Idempotent. */
export async function volumeDown(dirArg: string): Promise<void> {
  const dir = resolve(dirArg);
  if (!existsSync(join(dir, STATE))) return;
  const state = await loadState(dir);
  const engineNode = state.nodes.find((n) => n.name === state.engine.node);
  if (engineNode && isAlive(engineNode.imPid)) {
    const im = new InstanceManagerClient(engineNode.imAddress);
    await im.delete(state.engine.process).catch(() => {});
    im.close();
  }
  await Promise.all(
    state.nodes.map(async (n) => {
      const children = await childPids(n);
      await stopProcess(n.imPid);
      await Promise.all(children.map((pid) => stopProcess(pid, 5000)));
    }),
  );
}

async function childPids(node: NodeState): Promise<number[]> {
  if (!isAlive(node.imPid)) return [];
  const im = new InstanceManagerClient(node.imAddress);
  try {
    return (await im.list()).map((p) => p.pid).filter((pid) => pid > 0);
  } catch {
    return [];
  } finally {
    im.close();
  }
}

export async function withEngine<T>(state: VolumeState, fn: (e: EngineClient) => Promise<T>): Promise<T> {
  const engine = new EngineClient(state.engine.control);
  try {
    return await fn(engine);
  } finally {
    engine.close();
  }
}

export interface ReplicaRow {
  index: number;
  id: string;
  node: string;
  address: string;
  mode: string;
  error: string;
  rebuild: { percent: number; bytesDone: number; bytesTotal: number } | null;
}

export async function listReplicas(dir: string): Promise<ReplicaRow[]> {
  const state = await loadState(dir);
  const view = await withEngine(state, (e) => e.volume());
  return state.replicas.map((r, index) => {
    const live = view.replicas.find((x) => x.id === r.id);
    return {
      index,
      id: r.id,
      node: r.node,
      address: r.address,
      mode: live?.mode ?? 'ERR',
      error: live ? live.error : 'not a member of the engine',
      rebuild: live?.rebuilding
        ? {
            percent: live.rebuildPercent,
            bytesDone: live.rebuildBytesDone,
            bytesTotal: live.rebuildBytesTotal,
          }
        : null,
    };
  });
}

/** SIGKILLs the replica server process serving replica `index` on its simulated node. */
export async function killReplica(dir: string, index: number): Promise<number> {
  const state = await loadState(dir);
  const replica = state.replicas[index];
  if (!replica) throw new Error(`no replica with index ${index} (have 0..${state.replicas.length - 1})`);
  const node = state.nodes.find((n) => n.name === replica.node)!;
  const im = new InstanceManagerClient(node.imAddress);
  try {
    // A local replica is served by the engine process itself.
    const name = replica.local ? state.engine.process : REPLICA_SERVER_PROCESS;
    const proc = await im.get(name);
    if (!proc.pid || !isAlive(proc.pid)) throw new Error(`${name} on ${node.name} is not running`);
    process.kill(proc.pid, 'SIGKILL');
    return proc.pid;
  } finally {
    im.close();
  }
}

/**
 * Adds a fresh replica on the node with the fewest healthy replicas of this volume (replacing
 * an ERR one there) and rebuilds it; waits until it is RW unless `background`.
 */
export async function addReplica(dir: string, opts: { background?: boolean; bandwidthLimit?: number } = {}) {
  const state = await loadState(dir);
  const view = await withEngine(state, (e) => e.volume());
  const healthy = (node: string) =>
    state.replicas.filter(
      (r) => r.node === node && view.replicas.some((x) => x.id === r.id && x.mode !== 'ERR'),
    ).length;
  const node = [...state.nodes].sort((a, b) => healthy(a.name) - healthy(b.name))[0]!;
  await waitReplicaServer(node);
  const replica = await createReplica(state, node);
  state.replicas.push(replica);
  await saveState(dir, state);
  return withEngine(state, async (e) => {
    for (const old of view.replicas) {
      const onNode = state.replicas.find((r) => r.id === old.id)?.node === node.name;
      if (old.mode === 'ERR' && onNode) await e.removeReplica(old.id).catch(() => {});
    }
    return e.addReplica(replica.id, replica.address, opts);
  });
}

/** The replica server is restarted by its instance manager after a kill; wait for it. */
async function waitReplicaServer(node: NodeState): Promise<void> {
  const im = new InstanceManagerClient(node.imAddress);
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const proc = await im.get(REPLICA_SERVER_PROCESS);
      if (proc.state === 'running') return;
      if (Date.now() > deadline)
        throw new Error(`replica server on ${node.name} is ${proc.state}: ${proc.error}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    im.close();
  }
}

export async function revertVolume(dir: string, snapshot: string): Promise<VolumeView> {
  const state = await loadState(dir);
  return withEngine(state, async (e) => {
    await e.frontendStop();
    try {
      await e.snapshotRevert(snapshot);
    } finally {
      await e.frontendStart();
    }
    const view = await e.volume();
    state.engine.nbd = view.frontend;
    await saveState(dir, state);
    return view;
  });
}

/** Replaces the volume's QoS limits online and remembers them for the next engine start. */
export async function setVolumeQos(dir: string, limits: QosLimits): Promise<QosStats> {
  const state = await loadState(dir);
  const stats = await withEngine(state, (e) => e.setQos(limits));
  if (hasLimits(stats.limits)) state.qos = stats.limits;
  else delete state.qos;
  await saveState(dir, state);
  return stats;
}
