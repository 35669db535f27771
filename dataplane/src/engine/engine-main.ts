/**
 * Process entry of one volume's engine:
 *   node dist/engine/engine-main.js --volume NAME --replica ID=HOST:PORT ... \
 *     --listen HOST:PORT [--socket PATH] --control HOST:PORT [--timeout-ms 8000] [--wanted N]
 *     [--local-replica ID=DIR --local-size BYTES --local-listen HOST:PORT] [--state-file PATH] [--salvage]
 *     [--qos iops=N,readIops=N,writeIops=N,bandwidth=B,readBandwidth=B,writeBandwidth=B,burstSeconds=S]
 *     [--encryption cipher=aes-256-xts,keyId=ID,wrappedKey=BASE64 [--previous-encryption ...] --kek-file PATH]
 * A local replica (on the engine's node) is opened in this process, created if DIR holds none,
 * and also served over TCP at --local-listen (for rebuilds and checks from other nodes).
 * Connects to its replicas, starts serving NBD and its gRPC control service, then prints one
 * JSON line {volume, nbd, socket, control, pid}. SIGTERM stops it cleanly (flush, clean mark).
 * The state file keeps the membership and the generation record across restarts; a start whose
 * current replicas are unreachable is refused unless --salvage (acknowledged writes may be lost).
 * With --encryption the volume's data key is unwrapped with the KEK in --kek-file before anything
 * else; a missing or wrong key ends the start (exit 1, the message naming the key id).
 * --previous-encryption is the data key being replaced by a data-key rotation (both wrapped by the
 * same KEK): the state file and the replicas say how far re-encryption got (crypt/rotation-record.ts),
 * and the engine resumes it; keys that do not fit what was recorded end the start
 * (crypt/data-key-rotation.ts planResume).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { dataKeyId, planResume, type ResumePlan, type RotationRecord } from '../crypt/data-key-rotation.js';
import { CryptBlockDevice, loadDataKey, parseEnvelopeArg } from '../crypt/index.js';
import { DataKeyRotator } from '../crypt/rotation-job.js';
import {
  decodeRotationRecord,
  encodeRotationRecord,
  latestRotationRecord,
} from '../crypt/rotation-record.js';
import { IoStatsDevice } from '../frontend/io-stats-device.js';
import { NbdServer } from '../frontend/nbd/index.js';
import { componentLogger } from '../logging/logger.js';
import { parseHostPort } from '../net/host-port.js';
import { parseReplicaAddress, parseReplicaArg } from '../net/replica-address.js';
import { announceReady, exitWithParent } from '../process/entry-point.js';
import { ReplicaClient, ReplicaServer } from '../protocol/index.js';
import { QosBlockDevice } from '../qos/index.js';
import { Replica } from '../replica/index.js';
import type { ReplicaBackend } from '../replica/replica-backend.js';
import { SyncAgent } from '../sync/sync-agent.js';
import { Engine, type ReplicaEndpoint } from './engine.js';
import { type Frontend, serveEngine } from './engine-service.js';
import { LocalReplicaBackend } from './local-backend.js';
import { parseQosArg } from './qos-wire.js';
import { EngineStateFile } from './state-file.js';

const { values } = parseArgs({
  options: {
    volume: { type: 'string' },
    replica: { type: 'string', multiple: true, default: [] },
    listen: { type: 'string', default: '127.0.0.1:0' },
    socket: { type: 'string' },
    control: { type: 'string', default: '127.0.0.1:0' },
    'timeout-ms': { type: 'string', default: '8000' },
    wanted: { type: 'string', default: '0' },
    'state-file': { type: 'string' },
    'local-replica': { type: 'string' },
    'local-size': { type: 'string' },
    'local-listen': { type: 'string' },
    salvage: { type: 'boolean', default: false },
    qos: { type: 'string', default: '' },
    encryption: { type: 'string' },
    'previous-encryption': { type: 'string' },
    'kek-file': { type: 'string' },
  },
});
if (!values.volume) throw new Error('--volume is required');
const volume = values.volume;
const log = componentLogger('engine', { volume });
if (values['kek-file'] && !values.encryption)
  throw new Error('--kek-file without --encryption: nothing to unwrap');
if (values['previous-encryption'] && !values.encryption)
  throw new Error('--previous-encryption without --encryption: nothing to rotate to');
const dataKey = values.encryption ? await unwrapVolumeKey(values.encryption, values['kek-file']) : null;
const previousKey = values['previous-encryption']
  ? await unwrapVolumeKey(values['previous-encryption'], values['kek-file'])
  : null;

// After a restart the membership we last recorded wins over the arguments we were started with,
// and the generation record tells which replicas are provably current.
const stateFile = values['state-file'] ? new EngineStateFile(values['state-file']) : null;
const remembered = stateFile ? await stateFile.read() : null;
const members = remembered?.members ?? values.replica!.map(parseReplicaArg);
let generationRecord = remembered?.generation;
let rotationRecord: RotationRecord | undefined = remembered?.dataKeyRotation;
const local = values['local-replica'] ? await openLocalReplica() : null;
const endpoints: ReplicaEndpoint[] = await Promise.all(
  members.map(async ({ id, address }) => {
    if (local && id === local.id) return { id, address: local.address, backend: local.backend };
    try {
      const backend = await ReplicaClient.connect(parseReplicaAddress(address), id);
      return { id, address, backend };
    } catch (err) {
      log.warn({ replica: id, address, err: (err as Error).message }, 'replica unreachable at start');
      return { id, address, backend: unreachable(err as Error) };
    }
  }),
);
let engineRef: Engine | null = null;
const saveState = (): Promise<void> =>
  stateFile
    ? stateFile.save(() => ({
        members: engineRef ? engineRef.endpoints() : members,
        ...(generationRecord ? { generation: generationRecord } : {}),
        ...(rotationRecord ? { dataKeyRotation: rotationRecord } : {}),
      }))
    : Promise.resolve();
const engine = await Engine.start(
  {
    volume,
    timeoutMs: Number(values['timeout-ms']),
    wantedReplicas: Number(values.wanted),
    logger: log,
    generationRecord,
    salvage: values.salvage ?? false,
    // Acknowledged writes wait for this: the record is durable before they are answered.
    saveGeneration: async (record) => {
      generationRecord = record;
      await saveState();
    },
  },
  endpoints,
);
engineRef = engine;
if (stateFile) {
  engine.on('members', () => saveState().catch((err) => log.warn({ err: err.message }, 'state')));
  await saveState();
}

// Whether a data-key rotation is to resume, is done, or cannot be served with the keys given:
// by the furthest record among the state file's and the replicas' (an engine on another node
// has only theirs).
const rotationPlan = planRotation();
if (rotationPlan.kind === 'refuse') {
  log.error({ err: rotationPlan.reason }, 'cannot start with these data keys');
  process.stderr.write(`engine: ${rotationPlan.reason}\n`);
  await engine.close();
  process.exit(1);
}
const saveRotation = async (record: RotationRecord): Promise<void> => {
  rotationRecord = record;
  await saveState();
  await engine.saveKeyRotation(encodeRotationRecord(record));
};
if (rotationPlan.kind === 'run' || rotationPlan.kind === 'done') await saveRotation(rotationPlan.record);

// An encrypted volume's blocks are encrypted right above the engine: replicas hold ciphertext.
// Mid-rotation it holds both keys, split at the recorded watermark.
const crypt = !dataKey
  ? null
  : rotationPlan.kind === 'run' && previousKey
    ? new CryptBlockDevice(
        engine,
        { current: dataKey, previous: previousKey, watermark: rotationPlan.record.watermark },
        volume,
      )
    : new CryptBlockDevice(engine, dataKey, volume);
const rotator =
  crypt && dataKey
    ? new DataKeyRotator(
        {
          volume,
          device: crypt,
          save: saveRotation,
          // Deleted snapshots are never read again; their blocks under an old key are shadowed
          // by the re-encrypted ones above them, so purge can fold them away harmlessly.
          snapshots: async () =>
            (await engine.listSnapshots())
              .slice(0, -1)
              .filter((l) => !l.removed)
              .map((l) => l.name),
          log,
        },
        dataKeyId(dataKey),
        rotationPlan.kind === 'run' || rotationPlan.kind === 'done' ? rotationPlan.record : undefined,
      )
    : undefined;
const device = crypt ?? engine;
dataKey?.fill(0);
previousKey?.fill(0);
// The frontend serves it through its QoS layer (no limits unless --qos gives some).
const qos = new QosBlockDevice(device, parseQosArg(values.qos ?? ''));
// ...and counts what its clients asked and how long it took (the volume's I/O metrics).
const stats = new IoStatsDevice(qos);
const { host: nbdHost, port: nbdPort } = parseHostPort(values.listen!, '--listen');
let nbd: NbdServer | null = null;
let uri = '';
const frontend: Frontend = {
  uri: () => uri,
  server: () => nbd,
  async start() {
    if (nbd) return;
    const server = new NbdServer({ exports: new Map([[volume, stats]]), logger: log });
    const bound = await server.listenTcp(nbdHost, nbdPort);
    if (values.socket) await server.listenUnix(values.socket);
    nbd = server;
    uri = `nbd://${bound.host}:${bound.port}`;
  },
  async stop() {
    const server = nbd;
    nbd = null;
    uri = '';
    await server?.close();
  },
};
await frontend.start();
const { host: ctlHost, port: ctlPort } = parseHostPort(values.control!, '--control');
const control = await serveEngine(engine, frontend, ctlHost, ctlPort, qos, stats, rotator);
// A rotation the last engine did not finish goes on in the background.
rotator?.resume();

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await frontend.stop();
  qos.limiter.release();
  await rotator?.stop();
  await engine.close();
  control.server.forceShutdown();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
exitWithParent(stop);
announceReady({
  volume,
  nbd: uri,
  socket: values.socket ?? '',
  control: `${ctlHost}:${control.port}`,
  pid: process.pid,
});

/** planResume with the furthest rotation record the state file and the starting replicas hold. */
function planRotation(): ResumePlan {
  if (!dataKey) return { kind: 'none' };
  const given = {
    current: dataKeyId(dataKey),
    ...(previousKey ? { previous: dataKeyId(previousKey) } : {}),
  };
  try {
    const copies = [
      rotationRecord,
      ...engine.keyRotationsAtStart().map((r) => decodeRotationRecord(r.record, `replica ${r.replica}`)),
    ];
    return planResume(volume, given, latestRotationRecord(given, copies));
  } catch (err) {
    return { kind: 'refuse', reason: `volume ${volume}: ${(err as Error).message}` };
  }
}

/**
 * The volume's data key, or the end of this start: a key problem is reported as one line on
 * stderr (the instance manager shows the last lines of a process that died before it was ready).
 */
async function unwrapVolumeKey(arg: string, kekFile: string | undefined): Promise<Buffer> {
  try {
    return await loadDataKey(volume, parseEnvelopeArg(arg), kekFile);
  } catch (err) {
    log.error({ err: (err as Error).message }, 'cannot unwrap the data key');
    process.stderr.write(`engine: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

/** Opens (or creates) the local replica and serves it over TCP for other nodes. */
async function openLocalReplica(): Promise<{ id: string; address: string; backend: LocalReplicaBackend }> {
  const i = values['local-replica']!.indexOf('=');
  if (i <= 0) throw new Error('--local-replica: expected ID=DIR');
  const id = values['local-replica']!.slice(0, i);
  const dir = values['local-replica']!.slice(i + 1);
  const store = existsSync(join(dir, 'volume.meta'))
    ? await Replica.open(dir)
    : await Replica.create(dir, { size: Number(values['local-size']) });
  const server = new ReplicaServer({
    dataDir: dirname(dir),
    factory: { create: (d, o) => Replica.create(d, o), open: (d) => Replica.open(d) },
    logger: log,
    controlOps: [new SyncAgent().controlOps],
  });
  server.addReplica(id, store, dir);
  const { host, port } = parseHostPort(values['local-listen'] ?? '127.0.0.1:0', '--local-listen');
  const bound = await server.listenTcp(host, port);
  return { id, address: `${bound.host}:${bound.port}`, backend: new LocalReplicaBackend(store) };
}

/** A replica that could not be reached: every call fails, so the engine marks it ERR. */
function unreachable(err: Error): ReplicaBackend {
  const fail = () => Promise.reject(err);
  return {
    read: fail,
    write: fail,
    unmap: fail,
    writeZeroes: fail,
    flush: fail,
    info: fail,
    chain: fail,
    snapshot: fail,
    markRemoved: fail,
    purge: fail,
    revert: fail,
    expand: fail,
    setGeneration: fail,
    setKeyRotation: fail,
    allocatedRanges: fail,
    readLayer: fail,
    writeLayer: fail,
    importLayer: fail,
    finishImport: fail,
    abortImport: fail,
    dirtyRanges: fail,
    markClean: fail,
    close: () => Promise.resolve(),
  };
}
