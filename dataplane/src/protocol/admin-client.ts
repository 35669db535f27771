import { BlockError } from '../block/block-error.js';
import { type ReplicaTarget, targetToString } from '../net/replica-address.js';
import type { ReplicaInfo } from '../replica/types.js';
import { decodeJson, encodeJson, MessageType } from './codec.js';
import type { ReplicaEntryInfo } from './replica-registry.js';
import { RequestConnection } from './request-connection.js';
import type { CreateReplicaOptions } from './store-factory.js';

/**
 * Management connection to a replica server: create, open, close, delete and list the replicas
 * it hosts. What the instance manager (and tests) use to drive a server.
 */
export class ReplicaServerAdmin {
  private constructor(
    private readonly conn: RequestConnection,
    readonly address: string,
  ) {}

  /** Connects and says hello, within `connectTimeoutMs` (default 10 s). */
  static async connect(
    target: ReplicaTarget,
    opts: { connectTimeoutMs?: number } = {},
  ): Promise<ReplicaServerAdmin> {
    const address = targetToString(target);
    const label = `replica server ${address}`;
    const signal = AbortSignal.timeout(opts.connectTimeoutMs ?? 10_000);
    const conn = await RequestConnection.open(target, label, () => {}, signal);
    const onTimeout = (): void => conn.fail(new BlockError('EIO', `${label}: hello timed out`));
    signal.addEventListener('abort', onTimeout, { once: true });
    try {
      await conn.request(MessageType.Hello, 0, 0, encodeJson({}));
    } catch (err) {
      conn.fail(err as Error);
      throw err;
    } finally {
      signal.removeEventListener('abort', onTimeout);
    }
    return new ReplicaServerAdmin(conn, address);
  }

  /** Creates a replica of `size` bytes in `dir` (default `<dataDir>/<id>`) and opens it. */
  create(id: string, opts: CreateReplicaOptions & { dir?: string }): Promise<ReplicaInfo> {
    return this.call('create', { id, ...opts }) as Promise<ReplicaInfo>;
  }

  /** Opens an existing replica; idempotent. */
  open(id: string, opts: { dir?: string } = {}): Promise<ReplicaInfo> {
    return this.call('open', { id, ...opts }) as Promise<ReplicaInfo>;
  }

  /** Closes a replica (its engine connections drop); idempotent. */
  async close(id: string): Promise<void> {
    await this.call('close', { id });
  }

  /** Closes a replica if open and removes its directory. */
  async delete(id: string, opts: { dir?: string } = {}): Promise<void> {
    await this.call('delete', { id, ...opts });
  }

  list(): Promise<ReplicaEntryInfo[]> {
    return this.call('list', {}) as Promise<ReplicaEntryInfo[]>;
  }

  /** The server's bulk-transfer budget in bytes per second (0: none); sets it when given. */
  async bulkBandwidth(bytesPerSecond?: number): Promise<number> {
    const r = (await this.call('bulkBandwidth', bytesPerSecond === undefined ? {} : { bytesPerSecond })) as {
      bytesPerSecond: number;
    };
    return r.bytesPerSecond;
  }

  async ping(): Promise<number> {
    const start = process.hrtime.bigint();
    await this.conn.request(MessageType.Ping, 0, 0);
    return Number(process.hrtime.bigint() - start) / 1e6;
  }

  /** Closes the management connection (not the server). */
  async disconnect(): Promise<void> {
    this.conn.fail(new BlockError('EIO', `replica server ${this.address}: admin connection closed`));
  }

  private async call(op: string, args: Record<string, unknown>): Promise<unknown> {
    return decodeJson(await this.conn.request(MessageType.Control, 0, 0, encodeJson({ op, args })));
  }
}
