import { connect as netConnect, type Socket } from 'node:net';
import { BlockError } from '../block/block-error.js';
import { ioBuffers } from '../block/buffer-pool.js';
import type { ReplicaTarget } from '../net/replica-address.js';
import { decodeErrorPayload, FrameParser, MAX_DATA_LENGTH, MessageType, ProtocolError } from './codec.js';
import { FrameReceiver } from './frame-receiver.js';
import { FrameWriter } from './frame-writer.js';
import { errorFromWire } from './remote-error.js';

interface Pending {
  resolve: (data: Buffer) => void;
  reject: (err: Error) => void;
}

/**
 * One client-side connection to a replica server: sends requests with fresh sequence numbers
 * and settles them when the matching response arrives, in whatever order. No timeouts: the
 * caller owns them and closes the connection to give up. When the connection ends, every
 * pending request rejects with the error passed to `onLost`-time `fail`.
 */
export class RequestConnection {
  private readonly pending = new Map<number, Pending>();
  private readonly writer: FrameWriter;
  private nextSeq = 1;
  private lostError: Error | null = null;

  private constructor(
    private readonly socket: Socket,
    readonly label: string,
    private readonly onLost: (conn: RequestConnection, err: Error) => void,
  ) {
    this.writer = new FrameWriter(socket);
    socket.setNoDelay(true);
    socket.on('error', (err) => this.lose(new BlockError('EIO', `${this.label}: ${err.message}`)));
    socket.on('close', () => this.lose(new BlockError('EIO', `${this.label}: connection closed`)));
  }

  /** `label` prefixes every error message, e.g. `replica r1 at 10.0.0.1:9502`. */
  static open(
    target: ReplicaTarget,
    label: string,
    onLost: (conn: RequestConnection, err: Error) => void,
    signal?: AbortSignal,
  ): Promise<RequestConnection> {
    return new Promise((resolve, reject) => {
      // Frames and parse errors arrive only after the hello is sent, once `conn` exists.
      let conn: RequestConnection | null = null;
      // Payloads come from the shared pool (read data: the NBD frontend gives it back).
      const parser = new FrameParser(
        (seq, type, _offset, _size, data) => conn?.onFrame(seq, type, data),
        true,
        (size) => ioBuffers.acquire(size),
      );
      const onread = new FrameReceiver(parser, (err) => conn?.protocolError(err)).onread;
      const socket =
        'path' in target
          ? netConnect({ path: target.path, onread })
          : netConnect({ host: target.host, port: target.port, onread });
      const fail = (message: string): void => {
        socket.destroy();
        signal?.removeEventListener('abort', onAbort);
        reject(new BlockError('EIO', `${label}: cannot connect: ${message}`));
      };
      const onError = (err: Error): void => fail(err.message);
      const onAbort = (): void => fail('timed out');
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        signal?.removeEventListener('abort', onAbort);
        conn = new RequestConnection(socket, label, onLost);
        resolve(conn);
      });
    });
  }

  /** Requests in flight on this connection. */
  get load(): number {
    return this.pending.size;
  }

  get lost(): boolean {
    return this.lostError !== null;
  }

  /** Sends one request; resolves with the response payload. */
  request(type: number, offset: number, size: number, data?: Buffer, prefix?: Buffer): Promise<Buffer> {
    if (this.lostError) return Promise.reject(this.lostError);
    // What the header cannot carry is refused here, before anything reaches the wire.
    if (
      !Number.isSafeInteger(offset) ||
      offset < 0 ||
      !Number.isInteger(size) ||
      size < 0 ||
      size > 0xffff_ffff
    ) {
      return Promise.reject(new BlockError('EINVAL', `${this.label}: bad offset ${offset} or size ${size}`));
    }
    const dataLength = (data ? data.length : 0) + (prefix ? prefix.length : 0);
    if (dataLength > MAX_DATA_LENGTH) {
      return Promise.reject(
        new BlockError('EINVAL', `${this.label}: payload of ${dataLength} bytes exceeds ${MAX_DATA_LENGTH}`),
      );
    }
    const seq = this.nextSeq;
    this.nextSeq = this.nextSeq === 0xffff_ffff ? 1 : this.nextSeq + 1;
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      this.writer.send(seq, type, offset, size, data, prefix);
    });
  }

  /** Rejects everything pending with `err` and closes the socket. Idempotent. */
  fail(err: Error): void {
    if (this.lostError) return;
    this.lostError = err;
    this.socket.destroy();
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(err);
  }

  private lose(err: Error): void {
    if (this.lostError) return;
    this.fail(err);
    this.onLost(this, err);
  }

  private protocolError(err: unknown): void {
    const reason = err instanceof ProtocolError ? `protocol error: ${err.message}` : String(err);
    this.lose(new BlockError('EIO', `${this.label}: ${reason}`));
  }

  private onFrame(seq: number, type: number, data: Buffer): void {
    const p = this.pending.get(seq);
    if (!p) {
      this.lose(new BlockError('EIO', `${this.label}: response for unknown seq ${seq}`));
      return;
    }
    this.pending.delete(seq);
    if (type === MessageType.Response) {
      p.resolve(data);
    } else if (type === MessageType.Error || type === MessageType.ENOSPC) {
      const { code, message } = decodeErrorPayload(data);
      p.reject(errorFromWire(type === MessageType.ENOSPC ? 'ENOSPC' : code, message));
    } else {
      p.reject(new BlockError('EIO', `${this.label}: unexpected response type ${type}`));
      this.lose(new BlockError('EIO', `${this.label}: unexpected response type ${type}`));
    }
  }
}
