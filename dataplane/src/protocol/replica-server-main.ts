/**
 * Process entry of a replica server: one per node (or disk), serving many replicas.
 *
 *   node dataplane/dist/protocol/replica-server-main.js \
 *     --listen HOST:PORT --socket PATH --data-dir DIR [--open-existing]
 *     [--bulk-bandwidth-limit BYTES_PER_SEC]
 *
 * Env fallbacks: REPLICA_SERVER_LISTEN, REPLICA_SERVER_SOCKET, REPLICA_SERVER_DATA_DIR,
 * REPLICA_SERVER_BULK_BANDWIDTH_LIMIT. The bulk limit holds rebuilds, backups, restores and
 * clones through this server together to that rate (see ReplicaServerOptions.bulkBandwidthLimit).
 * Prints one JSON line `{"tcp":{"host","port"}|null,"socket":PATH|null,"pid"}` to stdout when
 * ready. SIGTERM/SIGINT close every replica and exit 0. Logs (pino) go to stderr.
 */
import { mkdir, readdir } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { parseHostPort } from '../net/host-port.js';
import { TokenBucket } from '../net/token-bucket.js';
import { Replica } from '../replica/replica.js';
import { SyncAgent } from '../sync/sync-agent.js';
import { ReplicaServer } from './server.js';
import type { ReplicaStoreFactory } from './store-factory.js';

const replicaFactory: ReplicaStoreFactory = {
  create: (dir, opts) => Replica.create(dir, opts),
  open: (dir) => Replica.open(dir),
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      listen: { type: 'string' },
      socket: { type: 'string' },
      'data-dir': { type: 'string' },
      'open-existing': { type: 'boolean', default: false },
      'bulk-bandwidth-limit': { type: 'string' },
    },
    strict: true,
  });
  const listen = values.listen ?? process.env.REPLICA_SERVER_LISTEN;
  const socketPath = values.socket ?? process.env.REPLICA_SERVER_SOCKET;
  const dataDir = values['data-dir'] ?? process.env.REPLICA_SERVER_DATA_DIR;
  if (!dataDir) throw new Error('--data-dir (or REPLICA_SERVER_DATA_DIR) is required');
  if (!listen && !socketPath) throw new Error('give --listen HOST:PORT and/or --socket PATH');
  const bulkRaw = values['bulk-bandwidth-limit'] ?? process.env.REPLICA_SERVER_BULK_BANDWIDTH_LIMIT ?? '0';
  const bulkBandwidthLimit = Number(bulkRaw);
  if (!/^\d+$/.test(bulkRaw) || !Number.isSafeInteger(bulkBandwidthLimit))
    throw new Error(
      `--bulk-bandwidth-limit must be bytes per second (0: no limit), got ${JSON.stringify(bulkRaw)}`,
    );

  const logger = pino({ level: process.env.LOG_LEVEL ?? 'info' }, pino.destination(2));
  await mkdir(dataDir, { recursive: true });
  // The sync agent serves this server's replicas as rebuild targets (syncFrom).
  // One budget for the server's layer transfers and its sync jobs' local reads.
  const bulk = new TokenBucket(bulkBandwidthLimit);
  const sync = new SyncAgent(bulk);
  const server = new ReplicaServer({
    dataDir,
    factory: replicaFactory,
    logger,
    controlOps: [sync.controlOps],
    bulk,
  });

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping replica server');
    server.close().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  if (values['open-existing']) {
    for (const ent of await readdir(dataDir, { withFileTypes: true })) {
      if (!ent.isDirectory()) continue;
      await server.openReplica(ent.name).catch((err: Error) => {
        logger.warn({ replica: ent.name, err: err.message }, 'could not open existing replica');
      });
    }
  }

  const address = listen ? parseHostPort(listen, '--listen') : null;
  const tcp = address ? await server.listenTcp(address.host, address.port) : null;
  const socket = socketPath ? await server.listenUnix(socketPath) : null;
  process.stdout.write(`${JSON.stringify({ tcp, socket, pid: process.pid })}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`replica-server: ${err.message}\n`);
  process.exit(1);
});
