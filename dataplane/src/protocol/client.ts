import { EventEmitter } from 'node:events';
import { BlockError } from '../block/block-error.js';
import { type ReplicaTarget, targetToString } from '../net/replica-address.js';
import type { ByteRange, LayerImport, LayerInfo, ReplicaInfo, SnapshotOptions } from '../replica/types.js';
import { decodeJson, encodeJson, encodeLayerWritePrefix, MAX_DATA_LENGTH, MessageType } from './codec.js';
import { RequestConnection } from './request-connection.js';
import type { SyncFromArgs, SyncStatus } from './sync-ops.js';

export type { ReplicaTarget } from '../net/replica-address.js';

export interface ReplicaClientOptions {
  /** TCP/Unix connections to open; requests spread over them (least loaded). Default 2. */
  connections?: number;
  /** Bound on connecting plus the hello on every connection (not on any later request). Default 10 s. */
  connectTimeoutMs?: number;
}

export interface ReplicaClientEvents {
  /** A connection dropped (server died, network, protocol error); every pending request failed. */
  disconnect: [err: BlockError];
}

/**
 * The engine's handle on one replica hosted by a replica server. Methods mirror ReplicaStore,
 * all asynchronous. Requests are pipelined over every connection and matched by sequence number.
 * No timeouts for data operations: the engine applies its own and calls `close()` to give up,
 * which rejects everything pending. Losing any connection fails the whole client (all pending
 * requests reject with BlockError('EIO') naming the replica and address) and emits 'disconnect'.
 */
export class ReplicaClient extends EventEmitter<ReplicaClientEvents> {
  /** The replica's info as returned by the hello on the first connection. */
  readonly helloInfo: ReplicaInfo;
  readonly address: string;
  private readonly conns: RequestConnection[];
  private rr = 0;
  private failure: BlockError | null = null;

  private constructor(
    readonly replicaId: string,
    readonly target: ReplicaTarget,
    conns: RequestConnection[],
    helloInfo: ReplicaInfo,
  ) {
    super();
    this.conns = conns;
    this.helloInfo = helloInfo;
    this.address = targetToString(target);
  }

  static async connect(
    target: ReplicaTarget,
    replicaId: string,
    opts: ReplicaClientOptions = {},
  ): Promise<ReplicaClient> {
    const n = Math.max(1, opts.connections ?? 2);
    const label = `replica ${replicaId} at ${targetToString(target)}`;
    let client: ReplicaClient | null = null;
    const lostBeforeReady: Error[] = [];
    const onLost = (conn: RequestConnection, err: Error): void => {
      if (client) client.onConnectionLost(conn, err);
      else lostBeforeReady.push(err);
    };
    const conns: RequestConnection[] = [];
    const timeout = new AbortController();
    const timeoutError = new BlockError('EIO', `${label}: connect and hello timed out`);
    const timer = setTimeout(() => {
      timeout.abort();
      for (const c of conns) c.fail(timeoutError);
    }, opts.connectTimeoutMs ?? 10_000);
    let info: ReplicaInfo;
    try {
      const hello = encodeJson({ replicaId });
      const replies = await Promise.all(
        Array.from({ length: n }, async () => {
          const c = await RequestConnection.open(target, label, onLost, timeout.signal);
          conns.push(c);
          if (timeout.signal.aborted) c.fail(timeoutError);
          return c.request(MessageType.Hello, 0, 0, hello);
        }),
      );
      info = decodeJson(replies[0]!) as ReplicaInfo;
    } catch (err) {
      for (const c of conns) c.fail(err as Error);
      // Connections still being opened when one failed: close them as they come.
      timeout.abort();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    client = new ReplicaClient(replicaId, target, conns, info);
    if (lostBeforeReady.length > 0) {
      client.onConnectionLost(null, lostBeforeReady[0]!);
    }
    return client;
  }

  get closed(): boolean {
    return this.failure !== null;
  }

  // --- Data operations (binary frames, no JSON) ---

  read(offset: number, length: number): Promise<Buffer> {
    return this.send(MessageType.Read, offset, length);
  }

  // Data ops return the request's own promise (its empty payload typed away as void) rather
  // than an async wrapper: one promise and one microtask less per I/O.
  write(offset: number, data: Buffer): Promise<void> {
    return this.send(MessageType.Write, offset, data.length, data) as Promise<unknown> as Promise<void>;
  }

  unmap(offset: number, length: number): Promise<void> {
    return this.send(MessageType.Unmap, offset, length) as Promise<unknown> as Promise<void>;
  }

  writeZeroes(offset: number, length: number): Promise<void> {
    return this.send(MessageType.WriteZeroes, offset, length) as Promise<unknown> as Promise<void>;
  }

  flush(): Promise<void> {
    return this.send(MessageType.Flush, 0, 0) as Promise<unknown> as Promise<void>;
  }

  /** Round trip time in milliseconds. */
  async ping(): Promise<number> {
    const start = process.hrtime.bigint();
    await this.send(MessageType.Ping, 0, 0);
    return Number(process.hrtime.bigint() - start) / 1e6;
  }

  // --- Control operations (JSON payloads) ---

  info(): Promise<ReplicaInfo> {
    return this.control('info') as Promise<ReplicaInfo>;
  }

  chain(): Promise<LayerInfo[]> {
    return this.control('chain') as Promise<LayerInfo[]>;
  }

  async snapshot(name: string, opts?: SnapshotOptions): Promise<void> {
    await this.control('snapshot', { name, opts });
  }

  async markRemoved(name: string): Promise<void> {
    await this.control('markRemoved', { name });
  }

  purge(): Promise<string[]> {
    return this.control('purge') as Promise<string[]>;
  }

  async revert(name: string, created?: string): Promise<void> {
    await this.control('revert', { name, created });
  }

  async expand(size: number): Promise<void> {
    await this.control('expand', { size });
  }

  async setGeneration(generation: number): Promise<void> {
    await this.control('setGeneration', { generation });
  }

  async setKeyRotation(record: string | null): Promise<void> {
    await this.control('setKeyRotation', { record });
  }

  allocatedRanges(layer?: string): Promise<ByteRange[]> {
    return this.control('allocatedRanges', { layer }) as Promise<ByteRange[]>;
  }

  // --- Rebuild ---

  /** The bytes one layer holds itself (no merge with older layers); holes read as zeros. */
  readLayer(name: string, offset: number, length: number): Promise<Buffer> {
    return this.send(MessageType.ReadLayer, offset, length, Buffer.from(name, 'utf8'));
  }

  /** Writes bytes into a layer being imported (binary frame). */
  async writeLayer(name: string, offset: number, data: Buffer): Promise<void> {
    await this.send(MessageType.WriteLayer, offset, data.length, data, encodeLayerWritePrefix(name));
  }

  /** The volume as it was when snapshot `name` was taken (backup). */
  readSnapshot(name: string, offset: number, length: number): Promise<Buffer> {
    return this.send(MessageType.ReadSnapshot, offset, length, Buffer.from(name, 'utf8'));
  }

  /** Stages an empty layer to receive (see LayerStore in replica/types.ts). */
  async importLayer(meta: LayerImport): Promise<void> {
    await this.control('importLayer', { meta });
  }

  /** Commits every staged layer at once. */
  async finishImport(): Promise<void> {
    await this.control('finishImport');
  }

  async abortImport(): Promise<void> {
    await this.control('abortImport');
  }

  /**
   * SHA-512 (hex) of each `chunkSize` piece of layer `name`'s own bytes in
   * [offset, offset + length), computed on the replica's side (at most 1 GiB per call).
   */
  layerChecksums(name: string, offset: number, length: number, chunkSize: number): Promise<string[]> {
    return this.control('layerChecksums', { name, offset, length, chunkSize }) as Promise<string[]>;
  }

  /** Regions written since the engine last declared all replicas equal. */
  dirtyRanges(): Promise<ByteRange[]> {
    return this.control('dirtyRanges') as Promise<ByteRange[]>;
  }

  /** Flushes, then durably clears the write-intent map. */
  async markClean(): Promise<void> {
    await this.control('markClean');
  }

  /** A control operation by name from the server's table (control-ops.ts); JSON in and out. */
  async control(op: string, args?: Record<string, unknown>): Promise<unknown> {
    const reply = await this.send(MessageType.Control, 0, 0, encodeJson({ op, args: args ?? {} }));
    return decodeJson(reply);
  }

  /** Closes every connection; pending requests reject with BlockError('EIO') at once. */
  async close(): Promise<void> {
    if (this.failure) return;
    this.failure = new BlockError('EIO', `replica ${this.replicaId} at ${this.address}: client closed`);
    for (const c of this.conns) c.fail(this.failure);
  }

  private send(type: number, offset: number, size: number, data?: Buffer, prefix?: Buffer): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    // Never send what the peer's codec refuses: it would drop the connection, and the engine
    // would eject a healthy replica for a request that was too large.
    if (
      (data && data.length + (prefix?.length ?? 0) > MAX_DATA_LENGTH) ||
      (size > MAX_DATA_LENGTH && returnsData(type))
    ) {
      return Promise.reject(
        new BlockError(
          'EINVAL',
          `replica ${this.replicaId}: a request of ${Math.max(size, data?.length ?? 0)} bytes exceeds the protocol's ${MAX_DATA_LENGTH}`,
        ),
      );
    }
    return this.pick().request(type, offset, size, data, prefix);
  }

  /** Least loaded connection; ties broken round-robin. */
  private pick(): RequestConnection {
    const conns = this.conns;
    const n = conns.length;
    this.rr = (this.rr + 1) % n;
    let best = conns[this.rr]!;
    for (let i = 1; i < n; i++) {
      const c = conns[(this.rr + i) % n]!;
      if (c.load < best.load) best = c;
    }
    return best;
  }

  private onConnectionLost(_conn: RequestConnection | null, err: Error): void {
    if (this.failure) return;
    this.failure = err instanceof BlockError ? err : new BlockError('EIO', err.message);
    for (const c of this.conns) c.fail(this.failure);
    this.emit('disconnect', this.failure);
  }

  // --- Replica-to-replica rebuild (the server's sync agent, sync/sync-agent.ts) ---

  /** Makes this replica pull layers from another replica server; returns once started. */
  async syncFrom(args: SyncFromArgs): Promise<void> {
    await this.control('syncFrom', args as unknown as Record<string, unknown>);
  }

  /** The running or last sync's progress; also keeps a running sync's lease alive. */
  syncProgress(): Promise<SyncStatus> {
    return this.control('syncProgress') as Promise<SyncStatus>;
  }
}

/** Requests answered with `size` bytes of data. */
function returnsData(type: number): boolean {
  return type === MessageType.Read || type === MessageType.ReadLayer || type === MessageType.ReadSnapshot;
}
