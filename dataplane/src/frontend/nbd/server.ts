import { lstat, unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { type Logger, pino } from 'pino';
import type { BlockDevice } from '../../block/block-device.js';
import { type ConnectionLimits, NbdConnection } from './connection.js';
import { MAX_PAYLOAD_SIZE } from './constants.js';
import type { ExportCatalog, NbdExport } from './handshake.js';

export interface NbdServerOptions {
  /**
   * Exports by name; "" is the default export. Read at every handshake, so entries added or
   * removed later are seen by the next client. When "" is absent and there is exactly one
   * export, a client asking for "" gets that one.
   */
  exports: Map<string, BlockDevice>;
  /** Human-readable descriptions by export name (NBD_INFO_DESCRIPTION, NBD_OPT_LIST). */
  descriptions?: Map<string, string>;
  logger?: Logger;
  /** Per connection (requests in flight plus unsent replies); default 64 MiB, at least 1 MiB. */
  maxInFlightBytes?: number;
  /** Per connection; default 512. */
  maxInFlightRequests?: number;
  /** Default 30 s. */
  handshakeTimeoutMs?: number;
}

/** An NBD server (fixed newstyle, simple replies) over any BlockDevice, on TCP and Unix sockets. */
export class NbdServer {
  private readonly listeners: Server[] = [];
  private readonly connections = new Set<NbdConnection>();
  private readonly log: Logger;
  private readonly limits: ConnectionLimits;
  private readonly catalog: ExportCatalog;
  private nextConnectionId = 1;
  private closing = false;

  constructor(private readonly options: NbdServerOptions) {
    this.log = (options.logger ?? pino({ level: 'silent' })).child({ component: 'nbd' });
    this.limits = {
      // One request is always admitted, so any limit works; below 1 MiB it would only throttle.
      maxInFlightBytes: Math.max(options.maxInFlightBytes ?? 2 * MAX_PAYLOAD_SIZE, 1024 * 1024),
      maxInFlightRequests: options.maxInFlightRequests ?? 512,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 30_000,
    };
    this.catalog = {
      resolve: (name) => this.resolve(name),
      list: () => [...options.exports.keys()].map((name) => this.resolve(name)!),
    };
  }

  /** Number of open client connections (handshaking or transmitting). */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Listens on TCP; port 0 picks a free port. Resolves to the address actually bound. */
  async listenTcp(host = '127.0.0.1', port = 0): Promise<{ host: string; port: number }> {
    const server = await this.listen((s) => s.listen(port, host));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('TCP listener has no address');
    this.log.info({ host: address.address, port: address.port }, 'listening on TCP');
    return { host: address.address, port: address.port };
  }

  /** Listens on a Unix socket, replacing a stale socket file left at `path`. */
  async listenUnix(path: string): Promise<{ path: string }> {
    const existing = await lstat(path).catch(() => null);
    if (existing?.isSocket()) await unlink(path);
    await this.listen((s) => s.listen(path));
    this.log.info({ path }, 'listening on Unix socket');
    return { path };
  }

  /** Closes every listener and every connection; requests in flight are abandoned. */
  async close(): Promise<void> {
    this.closing = true;
    const listenersClosed = this.listeners.map(
      (server) => new Promise<void>((resolve) => server.close(() => resolve())),
    );
    this.listeners.length = 0;
    for (const conn of this.connections) conn.destroy();
    await Promise.all(listenersClosed);
  }

  private listen(start: (server: Server) => void): Promise<Server> {
    if (this.closing) return Promise.reject(new Error('NBD server is closed'));
    const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.once('listening', () => {
        server.off('error', reject);
        server.on('error', (err) => this.log.error({ err }, 'listener error'));
        this.listeners.push(server);
        resolve(server);
      });
      start(server);
    });
  }

  private accept(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const id = this.nextConnectionId++;
    const remote = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : 'unix';
    const log = this.log.child({ conn: id, remote });
    const conn = new NbdConnection(socket, this.catalog, this.limits, log, (c) => this.connections.delete(c));
    this.connections.add(conn);
  }

  private resolve(name: string): NbdExport | undefined {
    const exports = this.options.exports;
    let device = exports.get(name);
    let resolved = name;
    if (!device && name === '' && exports.size === 1) {
      const [only] = exports;
      [resolved, device] = only!;
    }
    if (!device) return undefined;
    const description = this.options.descriptions?.get(resolved);
    return description === undefined ? { name: resolved, device } : { name: resolved, device, description };
  }
}
