/**
 * Process entry of one volume's engine:
 *   node dist/engine/engine-main.js --volume NAME --replica ID=HOST:PORT ... \
 *     --listen HOST:PORT [--socket PATH] --control HOST:PORT [--timeout-ms 8000] [--wanted N]
 * Connects to its replicas, starts serving NBD and its gRPC control service, then prints one
 * JSON line {volume, nbd, socket, control, pid}. SIGTERM stops it cleanly (flush, clean mark).
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { NbdServer } from '../frontend/nbd/index.js';
import { componentLogger } from '../logging/logger.js';
import { announceReady, exitWithParent } from '../process/entry-point.js';
import { ReplicaClient } from '../protocol/index.js';
import { Engine, type ReplicaEndpoint } from './engine.js';
import { type Frontend, serveEngine } from './engine-service.js';
import { parseReplicaAddress, parseReplicaArg } from './replica-address.js';
import type { ReplicaBackend } from './replica-backend.js';

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
  },
});
if (!values.volume) throw new Error('--volume is required');
const volume = values.volume;
const log = componentLogger('engine', { volume });

// After a restart the membership we last recorded wins over the arguments we were started with.
const stateFile = values['state-file'];
const remembered = stateFile ? await readMembers(stateFile) : null;
const members = remembered ?? values.replica!.map(parseReplicaArg);
const endpoints: ReplicaEndpoint[] = await Promise.all(
  members.map(async ({ id, address }) => {
    try {
      const backend = await ReplicaClient.connect(parseReplicaAddress(address), id);
      return { id, address, backend };
    } catch (err) {
      log.warn({ replica: id, address, err: (err as Error).message }, 'replica unreachable at start');
      return { id, address, backend: unreachable(err as Error) };
    }
  }),
);
const engine = await Engine.start(
  { volume, timeoutMs: Number(values['timeout-ms']), wantedReplicas: Number(values.wanted), logger: log },
  endpoints,
);

if (stateFile) {
  const save = () =>
    writeMembers(stateFile, engine.endpoints()).catch((err) => log.warn({ err: err.message }, 'state'));
  engine.on('members', save);
  await save();
}

const [nbdHost, nbdPort] = splitHostPort(values.listen!);
let nbd: NbdServer | null = null;
let uri = '';
const frontend: Frontend = {
  uri: () => uri,
  server: () => nbd,
  async start() {
    if (nbd) return;
    const server = new NbdServer({ exports: new Map([[volume, engine]]), logger: log });
    const bound = await server.listenTcp(nbdHost, Number(nbdPort));
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
const [ctlHost, ctlPort] = splitHostPort(values.control!);
const control = await serveEngine(engine, frontend, ctlHost, Number(ctlPort));

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await frontend.stop();
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

async function readMembers(file: string): Promise<{ id: string; address: string }[] | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as { id: string; address: string }[];
  } catch {
    return null;
  }
}

async function writeMembers(file: string, list: { id: string; address: string }[]): Promise<void> {
  const tmp = `${file}.tmp`;
  await writeFile(tmp, JSON.stringify(list));
  await rename(tmp, file);
}

function splitHostPort(s: string): [string, string] {
  const i = s.lastIndexOf(':');
  if (i < 0) throw new Error(`${s}: expected HOST:PORT`);
  return [s.slice(0, i), s.slice(i + 1)];
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
