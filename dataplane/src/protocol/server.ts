import { rm, stat, unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { isAbsolute, join, relative, resolve as resolvePath } from 'node:path';
import { type Logger, pino } from 'pino';
import { BlockError } from '../block/block-error.js';
import type { LayerStore, ReplicaInfo, ReplicaStore } from '../replica/types.js';
import {
  decodeJson,
  decodeLayerWrite,
  EMPTY_PAYLOAD,
  encodeErrorPayload,
  encodeJson,
  FrameParser,
  MessageType,
  messageTypeName,
} from './codec.js';
import { type ControlOps, controlOpsWith, runControlOp } from './control-ops.js';
import { FrameReceiver } from './frame-receiver.js';
import { FrameWriter } from './frame-writer.js';
import { errorToWire } from './remote-error.js';
import type { CreateReplicaOptions, ReplicaStoreFactory } from './store-factory.js';

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
}

export interface ReplicaEntryInfo {
  id: string;
  dir: string;
  info: ReplicaInfo;
  /** Connections currently bound to this replica. */
  connections: number;
}

interface ReplicaEntry {
  id: string;
  dir: string;
  store: ReplicaStore;
  conns: Set<ServerConnection>;
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function checkId(id: unknown): string {
  if (typeof id !== 'string' || !ID_PATTERN.test(id))
    throw new BlockError('EINVAL', `bad replica id ${String(id)}`);
  return id;
}

/**
 * One process serving many replicas over TCP and/or a Unix socket. A connection's first frame
 * is a Hello: with `{replicaId}` it binds to that replica (data and control ops follow,
 * pipelined, answered out of order by seq); without it is a management connection
 * (create/open/close/delete/list). Garbage closes the connection that sent it, nothing else.
 */
export class ReplicaServer {
  private readonly replicas = new Map<string, ReplicaEntry>();
  /** Replica ids with a create/open/close/delete in progress, so two cannot race. */
  private readonly busy = new Set<string>();
  private readonly servers: Server[] = [];
  private readonly conns = new Set<ServerConnection>();
  private socketPath: string | null = null;
  private closing = false;
  readonly dataDir: string;
  readonly log: Logger;
  /** What a bound connection's Control frames run. */
  readonly controlOps: ControlOps;

  constructor(private readonly opts: ReplicaServerOptions) {
    this.dataDir = resolvePath(opts.dataDir);
    this.controlOps = controlOpsWith(...(opts.controlOps ?? []));
    this.log = (opts.logger ?? pino({ level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2))).child({
      component: 'replica-server',
    });
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
  addReplica(id: string, store: ReplicaStore, dir = join(this.dataDir, id)): void {
    checkId(id);
    if (this.replicas.has(id)) throw new BlockError('EINVAL', `replica ${id} is already open`);
    this.replicas.set(id, { id, dir, store, conns: new Set() });
  }

  async createReplica(id: string, opts: CreateReplicaOptions & { dir?: string }): Promise<ReplicaInfo> {
    return this.exclusive(id, async () => {
      if (this.replicas.has(id)) throw new BlockError('EINVAL', `replica ${id} is already open`);
      if (!Number.isSafeInteger(opts.size) || opts.size <= 0) throw new BlockError('EINVAL', 'bad size');
      const dir = this.dirFor(id, opts.dir);
      const { dir: _dir, ...createOpts } = opts;
      const store = await this.opts.factory.create(dir, createOpts);
      this.replicas.set(id, { id, dir, store, conns: new Set() });
      this.log.info({ replica: id, dir, size: opts.size }, 'replica created');
      return store.info();
    });
  }

  /** Opens an existing replica; opening one that is already open returns its info (idempotent). */
  async openReplica(id: string, opts: { dir?: string } = {}): Promise<ReplicaInfo> {
    return this.exclusive(id, async () => {
      const existing = this.replicas.get(id);
      if (existing) return existing.store.info();
      const dir = this.dirFor(id, opts.dir);
      const store = await this.opts.factory.open(dir);
      this.replicas.set(id, { id, dir, store, conns: new Set() });
      this.log.info({ replica: id, dir }, 'replica opened');
      return store.info();
    });
  }

  /** Closes a replica: its connections are dropped first, then the store closes. Idempotent. */
  async closeReplica(id: string): Promise<void> {
    await this.exclusive(id, () => this.closeEntry(id));
  }

  /**
   * Closes the replica if open and removes its directory; idempotent. A directory outside the
   * data directory that is not open here is removed only if it opens as a replica, so a
   * management call cannot wipe an arbitrary path.
   */
  async deleteReplica(id: string, opts: { dir?: string } = {}): Promise<void> {
    await this.exclusive(id, async () => {
      const open = this.replicas.get(id);
      const dir = open?.dir ?? this.dirFor(id, opts.dir);
      if (open) {
        await this.closeEntry(id);
      } else if (!isInside(this.dataDir, dir) && (await exists(dir))) {
        const store = await this.opts.factory.open(dir);
        await store.close();
      }
      await rm(dir, { recursive: true, force: true });
      this.log.info({ replica: id, dir }, 'replica deleted');
    });
  }

  listReplicas(): ReplicaEntryInfo[] {
    return [...this.replicas.values()].map((e) => ({
      id: e.id,
      dir: e.dir,
      info: e.store.info(),
      connections: e.conns.size,
    }));
  }

  /** @internal */
  lookup(id: string): ReplicaEntry | undefined {
    return this.replicas.get(id);
  }

  /** Stops listening, drops every connection and closes every replica. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    // server.close() waits for open connections, so drop them first.
    const stopped = Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    for (const c of this.conns) c.destroy();
    await stopped;
    const results = await Promise.allSettled([...this.replicas.keys()].map((id) => this.closeEntry(id)));
    for (const r of results)
      if (r.status === 'rejected') this.log.error({ err: r.reason }, 'closing replica failed');
    if (this.socketPath) await unlink(this.socketPath).catch(() => {});
  }

  /** @internal */
  forget(conn: ServerConnection): void {
    this.conns.delete(conn);
  }

  private async closeEntry(id: string): Promise<void> {
    const entry = this.replicas.get(id);
    if (!entry) return;
    this.replicas.delete(id);
    for (const c of entry.conns) c.destroy();
    entry.conns.clear();
    await entry.store.close();
    this.log.info({ replica: id }, 'replica closed');
  }

  private dirFor(id: string, dir: string | undefined): string {
    checkId(id);
    return dir ? resolvePath(dir) : join(this.dataDir, id);
  }

  private async exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    checkId(id);
    if (this.busy.has(id))
      throw new BlockError('EINVAL', `replica ${id} is busy with another management call`);
    this.busy.add(id);
    try {
      return await fn();
    } finally {
      this.busy.delete(id);
    }
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

/** Requests in progress per connection before its socket is paused. */
const MAX_INFLIGHT = 1024;
const MAX_INFLIGHT_BYTES = 256 * 1024 * 1024;

enum Binding {
  None = 0,
  Replica = 1,
  Management = 2,
}

/** Server side of one connection: parses requests, runs them, writes replies as they finish. */
class ServerConnection {
  private readonly writer: FrameWriter;
  private readonly parser: FrameParser;
  private binding = Binding.None;
  private inflight = 0;
  private inflightBytes = 0;
  private paused = false;
  private entry: ReplicaEntry | null = null;
  private readonly peer: string;
  private log: Logger;

  constructor(
    private readonly server: ReplicaServer,
    private readonly socket: Socket,
  ) {
    this.peer = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : 'unix';
    this.log = server.log.child({ peer: this.peer });
    this.writer = new FrameWriter(socket);
    this.parser = new FrameParser(
      (seq, type, offset, size, data) => this.onFrame(seq, type, offset, size, data),
      true,
    );
    socket.setNoDelay(true);
    const onGarbage = (err: unknown): void => {
      this.log.warn({ err: (err as Error).message }, 'closing connection on garbage');
      this.destroy();
    };
    // Reads into one reused buffer, and a write's payload straight into its own buffer.
    if (!new FrameReceiver(this.parser, onGarbage).attach(socket)) {
      socket.on('data', (chunk: Buffer) => {
        try {
          this.parser.push(chunk);
        } catch (err) {
          onGarbage(err);
        }
      });
    }
    socket.on('error', () => {});
    socket.on('close', () => {
      this.entry?.conns.delete(this);
      this.server.forget(this);
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onFrame(seq: number, type: number, offset: number, size: number, data: Buffer): void {
    // Frames after a violation in the same chunk are not served.
    if (this.socket.destroyed) return;
    const store = this.entry?.store;
    if (store) {
      // Every request on a bound connection gets exactly one answer, which ends it.
      const cost = requestCost(type, size, data);
      this.begin(cost);
      try {
        if (this.serve(seq, type, offset, size, data, store, cost)) return;
        this.end(cost);
      } catch (err) {
        // A store that throws synchronously answers like one that rejects.
        this.replyError(seq, err, cost);
        return;
      }
    } else if (this.binding === Binding.None && type === MessageType.Hello) {
      this.hello(seq, data);
      return;
    } else if (this.binding === Binding.Management) {
      if (type === MessageType.Control) {
        this.runManagement(seq, data);
        return;
      }
      if (type === MessageType.Ping) {
        this.writer.send(seq, MessageType.Response, 0, 0);
        return;
      }
    }
    if (type === MessageType.Close) {
      this.socket.end();
      return;
    }
    this.log.warn({ type: messageTypeName(type) }, 'unexpected message, closing connection');
    this.destroy();
  }

  /** Serves one data or control request on a bound connection; false if the type is not one. */
  private serve(
    seq: number,
    type: number,
    offset: number,
    size: number,
    data: Buffer,
    store: ReplicaStore,
    cost: number,
  ): boolean {
    switch (type) {
      case MessageType.Read: {
        const r = DataRequest.acquire(this, seq, cost);
        store.read(offset, size).then(r.onData, r.onError);
        return true;
      }
      case MessageType.Write: {
        const r = DataRequest.acquire(this, seq, cost);
        store.write(offset, data).then(r.onDone, r.onError);
        return true;
      }
      case MessageType.Unmap: {
        const r = DataRequest.acquire(this, seq, cost);
        store.unmap(offset, size).then(r.onDone, r.onError);
        return true;
      }
      case MessageType.WriteZeroes: {
        const r = DataRequest.acquire(this, seq, cost);
        store.writeZeroes(offset, size).then(r.onDone, r.onError);
        return true;
      }
      case MessageType.Flush: {
        const r = DataRequest.acquire(this, seq, cost);
        store.flush().then(r.onDone, r.onError);
        return true;
      }
      case MessageType.Ping:
        this.respond(seq, undefined, 0);
        return true;
      case MessageType.Control:
        this.runControl(seq, store, data);
        return true;
      case MessageType.ReadLayer:
      case MessageType.ReadSnapshot:
        this.readLayer(seq, store, type, data.toString('utf8'), offset, size);
        return true;
      case MessageType.WriteLayer:
        this.writeLayer(seq, store, offset, data);
        return true;
      default:
        return false;
    }
  }

  /**
   * Back-pressure: a client that sends faster than the store answers gets its socket paused
   * instead of growing this process's memory without bound.
   */
  private begin(bytes: number): void {
    this.inflight++;
    this.inflightBytes += bytes;
    if (!this.paused && (this.inflight > MAX_INFLIGHT || this.inflightBytes > MAX_INFLIGHT_BYTES)) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private end(bytes: number): void {
    this.inflight--;
    this.inflightBytes -= bytes;
    if (this.paused && this.inflight <= MAX_INFLIGHT / 2 && this.inflightBytes <= MAX_INFLIGHT_BYTES / 2) {
      this.paused = false;
      this.socket.resume();
    }
  }

  /** @internal Answers a request counted by begin(). */
  respond(seq: number, data: Buffer | undefined, bytes: number): void {
    this.end(bytes);
    this.writer.send(seq, MessageType.Response, 0, data ? data.length : 0, data, undefined, true);
  }

  private hello(seq: number, data: Buffer): void {
    let replicaId: unknown;
    try {
      replicaId = (decodeJson(data) as { replicaId?: unknown } | undefined)?.replicaId;
    } catch {
      this.log.warn('bad hello, closing connection');
      this.destroy();
      return;
    }
    if (replicaId === undefined || replicaId === null) {
      this.binding = Binding.Management;
      this.writer.send(
        seq,
        MessageType.Response,
        0,
        0,
        encodeJson({ replicas: this.server.listReplicas().length }),
      );
      return;
    }
    const entry = typeof replicaId === 'string' ? this.server.lookup(replicaId) : undefined;
    if (!entry) {
      this.replyError(seq, errorCodeWithMessage('ENOENT', `no replica ${String(replicaId)} on this server`));
      return;
    }
    this.binding = Binding.Replica;
    this.entry = entry;
    entry.conns.add(this);
    this.log = this.log.child({ replica: entry.id });
    try {
      this.writer.send(seq, MessageType.Response, 0, 0, encodeJson(entry.store.info()));
    } catch (err) {
      this.replyError(seq, err);
    }
  }

  private runControl(seq: number, store: ReplicaStore, data: Buffer): void {
    let op: string;
    let args: Record<string, unknown>;
    try {
      ({ op, args } = parseControl(data));
    } catch (err) {
      this.replyError(seq, err, 0);
      return;
    }
    runControlOp(this.server.controlOps, store, op, args).then(
      (result) => this.respond(seq, encodeJson(result), 0),
      (err) => this.replyError(seq, err, 0),
    );
  }

  private readLayer(
    seq: number,
    store: ReplicaStore,
    type: number,
    name: string,
    offset: number,
    length: number,
  ): void {
    const reader = store as Partial<LayerStore>;
    const read = type === MessageType.ReadLayer ? reader.readLayer : reader.readSnapshot;
    if (typeof read !== 'function') {
      this.replyError(
        seq,
        new BlockError('ENOTSUP', `replica store does not serve ${messageTypeName(type)}`),
        length,
      );
      return;
    }
    read.call(store, name, offset, length).then(
      (buf) => this.respond(seq, buf, length),
      (err) => this.replyError(seq, err, length),
    );
  }

  private writeLayer(seq: number, store: ReplicaStore, offset: number, payload: Buffer): void {
    const writer = store as Partial<LayerStore>;
    const cost = payload.length;
    if (typeof writer.writeLayer !== 'function') {
      this.replyError(seq, new BlockError('ENOTSUP', 'replica store cannot write layers'), cost);
      return;
    }
    let name: string;
    let data: Buffer;
    try {
      ({ name, data } = decodeLayerWrite(payload));
    } catch (err) {
      this.replyError(seq, new BlockError('EINVAL', (err as Error).message), cost);
      return;
    }
    writer.writeLayer.call(store, name, offset, data).then(
      () => this.respond(seq, undefined, cost),
      (err) => this.replyError(seq, err, cost),
    );
  }

  private runManagement(seq: number, data: Buffer): void {
    let op: string;
    let args: Record<string, unknown>;
    try {
      ({ op, args } = parseControl(data));
    } catch (err) {
      this.replyError(seq, err);
      return;
    }
    const s = this.server;
    const dir = typeof args.dir === 'string' ? args.dir : undefined;
    let run: () => Promise<unknown>;
    switch (op) {
      case 'create':
        run = () =>
          s.createReplica(String(args.id), {
            size: Number(args.size),
            dir,
            ...(typeof args.sectorSize === 'number' ? { sectorSize: args.sectorSize } : {}),
            ...(typeof args.generation === 'number' ? { generation: args.generation } : {}),
          });
        break;
      case 'open':
        run = () => s.openReplica(String(args.id), { dir });
        break;
      case 'close':
        run = () => s.closeReplica(String(args.id));
        break;
      case 'delete':
        run = () => s.deleteReplica(String(args.id), { dir });
        break;
      case 'list':
        run = async () => s.listReplicas();
        break;
      default:
        this.replyError(seq, new BlockError('ENOTSUP', `unknown management operation ${op}`));
        return;
    }
    this.log.info({ op, replica: args.id }, 'management call');
    run().then(
      (result) => this.writer.send(seq, MessageType.Response, 0, 0, encodeJson(result)),
      (err) => {
        this.log.warn({ op, replica: args.id, err: (err as Error).message }, 'management call failed');
        this.replyError(seq, err);
      },
    );
  }

  /** @internal Answers with an error; `bytes` (when given) ends a request counted by begin(). */
  replyError(seq: number, err: unknown, bytes?: number): void {
    if (bytes !== undefined) this.end(bytes);
    const { code, message } = errorToWire(err);
    const type = code === 'ENOSPC' ? MessageType.ENOSPC : MessageType.Error;
    const payload = encodeErrorPayload(code, message);
    this.writer.send(seq, type, 0, 0, payload.length > 0 ? payload : EMPTY_PAYLOAD);
  }
}

function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel.length > 0 && !rel.startsWith('..') && !isAbsolute(rel);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * One data request waiting for its store call. Pooled, with its completion callbacks bound
 * once, so the hot path allocates no closures per request.
 */
class DataRequest {
  private static readonly pool: DataRequest[] = [];
  private conn: ServerConnection | null = null;
  private seq = 0;
  private cost = 0;

  static acquire(conn: ServerConnection, seq: number, cost: number): DataRequest {
    const r = DataRequest.pool.pop() ?? new DataRequest();
    r.conn = conn;
    r.seq = seq;
    r.cost = cost;
    return r;
  }

  readonly onData = (buf: Buffer): void => {
    const { conn, seq, cost } = this;
    this.release();
    conn!.respond(seq, buf, cost);
  };

  readonly onDone = (): void => {
    const { conn, seq, cost } = this;
    this.release();
    conn!.respond(seq, undefined, cost);
  };

  readonly onError = (err: unknown): void => {
    const { conn, seq, cost } = this;
    this.release();
    conn!.replyError(seq, err, cost);
  };

  private release(): void {
    this.conn = null;
    if (DataRequest.pool.length < 4096) DataRequest.pool.push(this);
  }
}

/** Bytes a request holds in memory until answered (payload in, or data to read out). */
function requestCost(type: number, size: number, data: Buffer): number {
  switch (type) {
    case MessageType.Read:
    case MessageType.ReadLayer:
    case MessageType.ReadSnapshot:
      return size;
    case MessageType.Write:
    case MessageType.WriteLayer:
      return data.length;
    default:
      return 0;
  }
}

function errorCodeWithMessage(code: string, message: string): Error {
  const err = new Error(message) as Error & { code: string };
  err.code = code;
  return err;
}

function parseControl(data: Buffer): { op: string; args: Record<string, unknown> } {
  let parsed: unknown;
  try {
    parsed = decodeJson(data);
  } catch {
    throw new BlockError('EINVAL', 'control payload is not JSON');
  }
  const p = parsed as { op?: unknown; args?: unknown } | undefined;
  if (!p || typeof p.op !== 'string') throw new BlockError('EINVAL', 'control payload lacks op');
  const args = p.args ?? {};
  if (typeof args !== 'object' || args === null || Array.isArray(args))
    throw new BlockError('EINVAL', 'control args must be an object');
  return { op: p.op, args: args as Record<string, unknown> };
}
