import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { BlockError } from '../block/block-error.js';
import { ioBuffers } from '../block/buffer-pool.js';
import type { TokenBucket } from '../net/token-bucket.js';
import type { LayerStore, ReplicaStore } from '../replica/types.js';
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
import { type ControlOps, runControlOp } from './control-ops.js';
import { FrameReceiver } from './frame-receiver.js';
import { FrameWriter } from './frame-writer.js';
import { type ManagementHandler, managementOp } from './management-ops.js';
import { errorToWire } from './remote-error.js';
import type { ReplicaEntry, ReplicaRegistry } from './replica-registry.js';

/** What a connection needs from the server that accepted it. */
export interface ConnectionHost {
  readonly log: Logger;
  readonly registry: ReplicaRegistry;
  /** What a bound connection's Control frames run. */
  readonly controlOps: ControlOps;
  /**
   * The server's budget for bulk transfers: layer reads and writes (rebuilds, backups, restores,
   * clones), never the front end's data ops. Unlimited unless set (management op bulkBandwidth).
   */
  readonly bulk: TokenBucket;
  /** The connection closed: drop it from the server's set. */
  forget(conn: ServerConnection): void;
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
export class ServerConnection {
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
    private readonly server: ConnectionHost,
    private readonly socket: Socket,
  ) {
    this.peer = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : 'unix';
    this.log = server.log.child({ peer: this.peer });
    this.writer = new FrameWriter(socket);
    // Payloads come from the shared pool: a fresh 4 KiB ArrayBuffer per write kept V8's
    // background threads busy freeing them (a futex wake-up per socket read); a write's payload
    // goes back once the store has written it.
    this.parser = new FrameParser(
      (seq, type, offset, size, data) => this.onFrame(seq, type, offset, size, data),
      true,
      (n) => ioBuffers.acquire(n),
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
        const r = DataRequest.acquire(this, seq, cost, data);
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
        encodeJson({ replicas: this.server.registry.list().length }),
      );
      return;
    }
    const entry = typeof replicaId === 'string' ? this.server.registry.get(replicaId) : undefined;
    if (!entry) {
      this.replyError(
        seq,
        errorCodeWithMessage('NOT_FOUND', `no replica ${String(replicaId)} on this server`),
      );
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
    const run = (): void => {
      read.call(store, name, offset, length).then(
        (buf) => this.respond(seq, buf, length),
        (err) => this.replyError(seq, err, length),
      );
    };
    this.afterBulkBudget(length, run, seq, length);
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
    const write = writer.writeLayer;
    const run = (): void => {
      write.call(store, name, offset, data).then(
        () => {
          ioBuffers.release(payload);
          this.respond(seq, undefined, cost);
        },
        (err) => {
          ioBuffers.release(payload);
          this.replyError(seq, err, cost);
        },
      );
    };
    this.afterBulkBudget(data.length, run, seq, cost);
  }

  /** Runs a layer transfer of `bytes` now when the budget is unlimited, else once it allows. */
  private afterBulkBudget(bytes: number, run: () => void, seq: number, cost: number): void {
    const bulk = this.server.bulk;
    if (bulk.unlimited) {
      run();
      return;
    }
    bulk.take(bytes).then(run, (err) => this.replyError(seq, err, cost));
  }

  private runManagement(seq: number, data: Buffer): void {
    let op: string;
    let args: Record<string, unknown>;
    let run: ManagementHandler;
    try {
      ({ op, args } = parseControl(data));
      run = managementOp(op);
    } catch (err) {
      this.replyError(seq, err);
      return;
    }
    this.log.info({ op, replica: args.id }, 'management call');
    run(this.server, args).then(
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

/**
 * One data request waiting for its store call. Pooled, with its completion callbacks bound
 * once, so the hot path allocates no closures per request.
 */
class DataRequest {
  private static readonly pool: DataRequest[] = [];
  private conn: ServerConnection | null = null;
  private seq = 0;
  private cost = 0;
  /** A write's payload, given back to the pool once the store is done with it. */
  private payload: Buffer | null = null;

  static acquire(conn: ServerConnection, seq: number, cost: number, payload?: Buffer): DataRequest {
    const r = DataRequest.pool.pop() ?? new DataRequest();
    r.conn = conn;
    r.seq = seq;
    r.cost = cost;
    r.payload = payload ?? null;
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
    if (this.payload) {
      ioBuffers.release(this.payload);
      this.payload = null;
    }
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
