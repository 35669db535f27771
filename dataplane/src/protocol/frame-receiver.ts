import type { Socket } from 'node:net';
import { readIntoUserBuffers } from '../net/user-buffer-reads.js';
import type { FrameParser } from './codec.js';

/** Socket reads go to one reused buffer of this size... */
const RECEIVE_BUFFER = 64 * 1024;
/** ...or, once this much of a payload is missing, straight into the payload's own buffer. */
const DIRECT_READ_MIN = 16 * 1024;

/**
 * The receiving side of a connection, read onread-style: Node reads into the buffer `next`
 * returns instead of a fresh 64 KiB chunk per read. Headers and small payloads land in one
 * reused buffer (the parser must copy payloads out: `copySmallPayloads`); once a large payload
 * (a 1 MiB read response or write request) has begun, the socket reads the rest directly into
 * that payload's buffer, so its bytes are copied once, by the kernel, and no chunks are left
 * for the GC.
 */
export class FrameReceiver {
  private readonly buffer = Buffer.allocUnsafe(RECEIVE_BUFFER);
  private direct: Buffer | null = null;

  /** `onError` gets the parser's ProtocolError (or a bug); the caller drops the connection. */
  constructor(
    private readonly parser: FrameParser,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** The buffer for the next socket read. */
  readonly next = (): Buffer => {
    this.direct = this.parser.directTarget(DIRECT_READ_MIN);
    return this.direct ?? this.buffer;
  };

  /** `n` bytes were read into `buf` (the last buffer `next` returned). */
  readonly onRead = (n: number, buf: Uint8Array): boolean => {
    try {
      if (buf === this.direct) this.parser.filled(n);
      else this.parser.push(this.buffer.subarray(0, n));
    } catch (err) {
      this.onError(err);
    }
    return true;
  };

  /** Options for `net.connect` on the client side. */
  get onread(): { buffer: () => Buffer; callback: (n: number, buf: Uint8Array) => boolean } {
    return { buffer: this.next, callback: this.onRead };
  }

  /** Switches an accepted socket to this receiver; false (nothing changed) if Node cannot. */
  attach(socket: Socket): boolean {
    return readIntoUserBuffers(socket, this.next, this.onRead);
  }
}
