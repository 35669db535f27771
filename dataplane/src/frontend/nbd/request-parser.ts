import { ioBuffers } from '../../block/buffer-pool.js';
import type { ByteQueue } from './byte-queue.js';
import { MAX_PAYLOAD_SIZE, NBD_CMD_WRITE, NBD_REQUEST_MAGIC, REQUEST_HEADER_SIZE } from './constants.js';

/** Why the request stream cannot be parsed further; the connection must be dropped. */
export type RequestStreamFault = 'bad-magic' | 'payload-too-large';

/**
 * Parses transmission-phase requests from a ByteQueue. Pure: no socket, no device.
 *
 * After `next()` returns 'request', the fields below describe the request until the next call.
 * A WRITE's payload is copied once into its own Buffer as bytes arrive (or sliced when it sits
 * in one received chunk), so a 1 MiB write costs one copy however it was fragmented.
 */
export class RequestParser {
  flags = 0;
  type = 0;
  /** The client's 64-bit handle, as two 32-bit halves (echoed back verbatim). */
  handleHi = 0;
  handleLo = 0;
  /** Offset as a number; `offsetSafe` is false when it exceeds 2^53 (answered EINVAL). */
  offset = 0;
  offsetSafe = true;
  length = 0;
  payload: Buffer | null = null;
  fault: RequestStreamFault | null = null;

  private readonly scratch = Buffer.allocUnsafe(REQUEST_HEADER_SIZE);
  /** A WRITE whose header was read but whose payload is still arriving. */
  private pending: Buffer | null = null;
  private pendingFilled = 0;

  constructor(private readonly input: ByteQueue) {}

  /**
   * 'request' when one complete request is ready, 'more' when more bytes are needed,
   * 'fault' when the stream is garbage (see `fault`).
   */
  next(): 'request' | 'more' | 'fault' {
    if (this.fault) return 'fault';
    if (this.pending) return this.continuePayload();
    const input = this.input;
    if (input.length < REQUEST_HEADER_SIZE) {
      // Garbage is recognised by its first 4 bytes, without waiting for a whole header.
      if (input.length >= 4) {
        const { buf, pos } = input.peek(4, this.scratch);
        if (buf.readUInt32BE(pos) !== NBD_REQUEST_MAGIC) {
          this.fault = 'bad-magic';
          return 'fault';
        }
      }
      return 'more';
    }
    const { buf, pos } = input.peek(REQUEST_HEADER_SIZE, this.scratch);
    if (buf.readUInt32BE(pos) !== NBD_REQUEST_MAGIC) {
      this.fault = 'bad-magic';
      return 'fault';
    }
    this.flags = buf.readUInt16BE(pos + 4);
    this.type = buf.readUInt16BE(pos + 6);
    this.handleHi = buf.readUInt32BE(pos + 8);
    this.handleLo = buf.readUInt32BE(pos + 12);
    const offsetHi = buf.readUInt32BE(pos + 16);
    this.offsetSafe = offsetHi < 0x200000;
    this.offset = offsetHi * 0x100000000 + buf.readUInt32BE(pos + 20);
    this.length = buf.readUInt32BE(pos + 24);
    input.skip(REQUEST_HEADER_SIZE);
    this.payload = null;
    if (this.type !== NBD_CMD_WRITE || this.length === 0) return 'request';
    // Reading (or skipping) a huge payload would let one client tie us up: drop it instead.
    if (this.length > MAX_PAYLOAD_SIZE) {
      this.fault = 'payload-too-large';
      return 'fault';
    }
    if (input.length >= this.length) {
      this.payload = input.take(this.length);
      return 'request';
    }
    this.pending = ioBuffers.acquire(this.length);
    this.pendingFilled = 0;
    return this.continuePayload();
  }

  /**
   * The rest of a WRITE payload being assembled, when at least `minBytes` are missing and the
   * queue holds none of them: a socket may read straight into it, then call `filled(n)`.
   */
  directTarget(minBytes: number): Buffer | null {
    const p = this.pending;
    if (!p || p.length - this.pendingFilled < minBytes || this.input.length > 0) return null;
    return p.subarray(this.pendingFilled);
  }

  /** `n` bytes were read into the buffer `directTarget` returned. */
  filled(n: number): void {
    this.pendingFilled += n;
  }

  /** Bytes still missing for the request being assembled (0 when between requests). */
  get missingPayloadBytes(): number {
    return this.pending ? this.pending.length - this.pendingFilled : 0;
  }

  private continuePayload(): 'request' | 'more' {
    const pending = this.pending!;
    this.pendingFilled += this.input.readInto(
      pending,
      this.pendingFilled,
      pending.length - this.pendingFilled,
    );
    if (this.pendingFilled < pending.length) return 'more';
    this.payload = pending;
    this.pending = null;
    return 'request';
  }
}
