import { connect, type Socket } from 'node:net';
import {
  ByteQueue,
  NBD_IHAVEOPT,
  NBD_OPT_GO,
  NBD_OPTION_REPLY_MAGIC,
  NBD_REP_ACK,
  NBD_REQUEST_MAGIC,
  NBD_SIMPLE_REPLY_MAGIC,
} from '../../src/frontend/nbd/index.js';

/**
 * A byte-level NBD client for feeding the server exactly what a test wants, good or bad.
 * Every read has a deadline so a server that stays silent fails the test instead of hanging it.
 */
export class RawClient {
  private readonly buffered = new ByteQueue();
  private waiter: (() => void) | null = null;
  private ended = false;
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered.push(chunk);
      this.waiter?.();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.ended = true;
        this.waiter?.();
        resolve();
      }),
    );
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  write(data: Buffer): void {
    this.socket.write(data);
  }

  /** Reads exactly n bytes; rejects on close or after `timeoutMs`. */
  async read(n: number, timeoutMs = 3000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.buffered.length < n) {
      if (this.ended) throw new Error(`connection closed with ${this.buffered.length}/${n} bytes`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${n} bytes (have ${this.buffered.length})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = null;
    }
    return Buffer.from(this.buffered.take(n));
  }

  /** Resolves true when the server closes the connection within `timeoutMs`. */
  async closedWithin(timeoutMs = 3000): Promise<boolean> {
    const timer = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs));
    return Promise.race([this.closed.then(() => true), timer]);
  }

  /** Reads the greeting and answers with client flags; returns the handshake flags. */
  async greet(clientFlags = 0b11): Promise<number> {
    const greeting = await this.read(18);
    const flags = greeting.readUInt16BE(16);
    const reply = Buffer.alloc(4);
    reply.writeUInt32BE(clientFlags, 0);
    this.write(reply);
    return flags;
  }

  sendOption(option: number, data: Buffer = Buffer.alloc(0)): void {
    const header = Buffer.alloc(16);
    header.writeBigUInt64BE(NBD_IHAVEOPT, 0);
    header.writeUInt32BE(option, 8);
    header.writeUInt32BE(data.length, 12);
    this.write(Buffer.concat([header, data]));
  }

  async readOptionReply(): Promise<{ option: number; type: number; data: Buffer }> {
    const header = await this.read(20);
    if (header.readBigUInt64BE(0) !== NBD_OPTION_REPLY_MAGIC) throw new Error('bad option reply magic');
    const length = header.readUInt32BE(16);
    return { option: header.readUInt32BE(8), type: header.readUInt32BE(12), data: await this.read(length) };
  }

  /** NBD_OPT_GO for `name`; returns the INFO replies' data once ACKed. */
  async go(name = '', infos: number[] = []): Promise<Buffer[]> {
    this.sendOption(NBD_OPT_GO, infoRequest(name, infos));
    const infoReplies: Buffer[] = [];
    for (;;) {
      const reply = await this.readOptionReply();
      if (reply.type === NBD_REP_ACK) return infoReplies;
      if (reply.type >= 0x80000000) throw new Error(`GO failed with 0x${reply.type.toString(16)}`);
      infoReplies.push(reply.data);
    }
  }

  async connectedTo(name = ''): Promise<this> {
    await this.greet();
    await this.go(name);
    return this;
  }

  request(type: number, handle: number, offset: number, length: number, flags = 0, payload?: Buffer): void {
    const header = Buffer.alloc(28);
    header.writeUInt32BE(NBD_REQUEST_MAGIC, 0);
    header.writeUInt16BE(flags, 4);
    header.writeUInt16BE(type, 6);
    header.writeBigUInt64BE(BigInt(handle), 8);
    header.writeBigUInt64BE(BigInt(offset), 16);
    header.writeUInt32BE(length, 24);
    this.write(payload ? Buffer.concat([header, payload]) : header);
  }

  async readReply(): Promise<{ error: number; handle: number }> {
    const reply = await this.read(16);
    if (reply.readUInt32BE(0) !== NBD_SIMPLE_REPLY_MAGIC) throw new Error('bad simple reply magic');
    return { error: reply.readUInt32BE(4), handle: Number(reply.readBigUInt64BE(8)) };
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export function infoRequest(name: string, infos: number[]): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  const out = Buffer.alloc(4 + nameBytes.length + 2 + 2 * infos.length);
  out.writeUInt32BE(nameBytes.length, 0);
  nameBytes.copy(out, 4);
  out.writeUInt16BE(infos.length, 4 + nameBytes.length);
  infos.forEach((info, i) => {
    out.writeUInt16BE(info, 4 + nameBytes.length + 2 + 2 * i);
  });
  return out;
}
