import { unlink } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { type Logger, pino } from 'pino';
import { TokenBucket } from '../net/token-bucket.js';
import type { ReplicaInfo, ReplicaStore } from '../replica/types.js';
import { type ControlOps, controlOpsWith } from './control-ops.js';
import { type ReplicaEntryInfo, ReplicaRegistry } from './replica-registry.js';
import { type ConnectionHost, ServerConnection } from './server-connection.js';
import type { CreateReplicaOptions, ReplicaStoreFactory } from './store-factory.js';

export type { ReplicaEntryInfo } from './replica-registry.js';

export interface ReplicaServerOptions {
  /** Where replicas live by default: `<dataDir>/<replicaId>`. */
  dataDir: string;
  factory: ReplicaStoreFactory;
  logger?: Logger;
  /**
   * Control ops beyond the store's own (control-ops.ts), from the entry point: e.g. the sync
   * agent's (sync/sync-agent.ts). A later table wins for an op name.
   */
  controlOps?: readonly ControlOps[];
  /**
   * Bytes per second all layer transfers through this server may move together (rebuild
   * reads and writes, backups, restores, clones); 0 or absent: no limit. Changed online with
   * the management op `bulkBandwidth`. The front end's reads and writes are never counted.
   */
  bulkBandwidthLimit?: number;
  /** The budget itself, when the entry point shares it (with its sync agent); wins over the limit. */
  bulk?: TokenBucket;
}

/**
 * One process serving many replicas over TCP and/or a Unix socket. A connection's first frame
 * is a Hello: with `{replicaId}` it binds to that replica (data and control ops follow,
 * pipelined, answered out of order by seq); without it is a management connection
 * (management-ops.ts). Garbage closes the connection that sent it, nothing else.
 *
 * This class holds the listeners and the connection set; which replicas are hosted is the
 * registry's (replica-registry.ts), one connection's framing and dispatch server-connection.ts.
 */
export class ReplicaServer implements ConnectionHost {
  readonly registry: ReplicaRegistry;
  readonly log: Logger;
  readonly controlOps: ControlOps;
  readonly bulk: TokenBucket;
  private readonly servers: Server[] = [];
  private readonly conns = new Set<ServerConnection>();
  private socketPath: string | null = null;
  private closing = false;

  constructor(opts: ReplicaServerOptions) {
    this.log = (opts.logger ?? pino({ level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2))).child({
      component: 'replica-server',
    });
    this.registry = new ReplicaRegistry(opts.dataDir, opts.factory, this.log);
    this.controlOps = controlOpsWith(...(opts.controlOps ?? []));
    this.bulk = opts.bulk ?? new TokenBucket(opts.bulkBandwidthLimit ?? 0);
  }

  get dataDir(): string {
    return this.registry.dataDir;
  }

  /** Listens on TCP; port 0 picks a free port. Resolves with the bound address. */
  listenTcp(host: string, port: number): Promise<{ host: string; port: number }> {
    const server = this.makeServer();
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        const addr = server.address();
        if (addr === null || typeof addr === 'string') return reject(new Error('no TCP address'));
        resolve({ host: addr.address, port: addr.port });
      });
    });
  }

  /** Listens on a Unix socket, replacing a stale socket file. */
  async listenUnix(path: string): Promise<string> {
    await unlink(path).catch(() => {});
    const server = this.makeServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ path }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.socketPath = path;
    return path;
  }

  /** Registers an already open store (tests, embedding). */
  addReplica(id: string, store: ReplicaStore, dir?: string): void {
    this.registry.add(id, store, dir);
  }

  createReplica(id: string, opts: CreateReplicaOptions & { dir?: string }): Promise<ReplicaInfo> {
    return this.registry.create(id, opts);
  }

  /** Opens an existing replica; opening one that is already open returns its info (idempotent). */
  openReplica(id: string, opts: { dir?: string } = {}): Promise<ReplicaInfo> {
    return this.registry.open(id, opts);
  }

  /** Closes a replica: its connections are dropped first, then the store closes. Idempotent. */
  closeReplica(id: string): Promise<void> {
    return this.registry.close(id);
  }

  /** Closes the replica if open and removes its directory; idempotent (see ReplicaRegistry). */
  deleteReplica(id: string, opts: { dir?: string } = {}): Promise<void> {
    return this.registry.delete(id, opts);
  }

  listReplicas(): ReplicaEntryInfo[] {
    return this.registry.list();
  }

  /** Stops listening, drops every connection and closes every replica. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    // server.close() waits for open connections, so drop them first.
    const stopped = Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    for (const c of this.conns) c.destroy();
    await stopped;
    await this.registry.closeAll();
    if (this.socketPath) await unlink(this.socketPath).catch(() => {});
  }

  /** @internal */
  forget(conn: ServerConnection): void {
    this.conns.delete(conn);
  }

  private makeServer(): Server {
    const server = createServer((socket) => {
      if (this.closing) {
        socket.destroy();
        return;
      }
      this.conns.add(new ServerConnection(this, socket));
    });
    server.on('error', (err) => this.log.error({ err }, 'listener error'));
    this.servers.push(server);
    return server;
  }
}
