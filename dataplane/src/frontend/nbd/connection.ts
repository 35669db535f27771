import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { BlockDevice } from '../../block/block-device.js';
import { readIntoUserBuffers } from '../../net/user-buffer-reads.js';
import { zeroCopy } from '../../net/zerocopy.js';
import { ByteQueue } from './byte-queue.js';
import {
  MAX_PAYLOAD_SIZE,
  NBD_CMD_DISC,
  NBD_CMD_FLAG_FUA,
  NBD_CMD_FLAG_NO_HOLE,
  NBD_CMD_FLUSH,
  NBD_CMD_READ,
  NBD_CMD_TRIM,
  NBD_CMD_WRITE,
  NBD_CMD_WRITE_ZEROES,
  NBD_EINVAL,
  NBD_EIO,
  NBD_ENOSPC,
} from './constants.js';
import { nbdErrnoOf } from './errno.js';
import {
  CLIENT_ABORTED,
  type ExportCatalog,
  encodeGreeting,
  Handshake,
  type NbdExport,
} from './handshake.js';
import { encodeSimpleReply } from './replies.js';
import { ReplySender } from './reply-sender.js';
import { RequestParser } from './request-parser.js';

export interface ConnectionLimits {
  /** Bytes of requests in flight plus replies not yet sent before the socket is paused. */
  maxInFlightBytes: number;
  /** Requests in flight before the socket is paused. */
  maxInFlightRequests: number;
  /** A client that has not finished its handshake by then is dropped. */
  handshakeTimeoutMs: number;
}

/**
 * One request handed to the device. Pooled per connection, with its completion callbacks bound
 * once at construction, so the hot path allocates no closure per request.
 */
class InFlight {
  type = 0;
  handleHi = 0;
  handleLo = 0;
  length = 0;
  /** Bytes this request counts against the in-flight budget. */
  cost = 0;
  readonly onDone: (value: Buffer | undefined) => void;
  readonly onFail: (err: unknown) => void;

  constructor(conn: NbdConnection) {
    this.onDone = (value) => conn.complete(this, value);
    this.onFail = (err) => conn.fail(this, err);
  }
}

type State = 'handshake' | 'transmission' | 'draining' | 'closed';

/**
 * One client: handshake, then pipelined requests answered out of order as the device finishes
 * them. Replies are batched: the socket is corked at the first reply and uncorked once per
 * event-loop turn, so replies completed together leave in one writev.
 */
export class NbdConnection {
  private state: State = 'handshake';
  private readonly input = new ByteQueue();
  private readonly handshake: Handshake;
  private readonly parser: RequestParser;
  private device: BlockDevice | null = null;
  private size = 0;
  private inFlightCount = 0;
  private inFlightBytes = 0;
  private paused = false;
  private readonly receiveBuffer = Buffer.allocUnsafe(RECEIVE_BUFFER);
  /** The WRITE payload the current socket read goes into, when not `receiveBuffer`. */
  private direct: Buffer | null = null;
  private readonly replies: ReplySender;
  private readonly pool: InFlight[] = [];
  private deviceErrors = 0;
  /** The client closed its sending side: serve what was received, then close. */
  private inputEnded = false;
  private handshakeTimer: NodeJS.Timeout | null;

  constructor(
    private readonly socket: Socket,
    catalog: ExportCatalog,
    private readonly limits: ConnectionLimits,
    private readonly log: Logger,
    private readonly onClosed: (conn: NbdConnection) => void,
  ) {
    this.handshake = new Handshake(this.input, catalog);
    this.parser = new RequestParser(this.input);
    const handle = (socket as unknown as { _handle?: { fd?: number } })._handle;
    this.replies = new ReplySender(
      socket,
      zeroCopy(),
      typeof handle?.fd === 'number' ? handle.fd : -1,
      () => this.checkBackpressure(),
      (err) => this.drop(`sending a read reply failed: ${(err as Error).message}`),
    );
    socket.setNoDelay(true);
    // A deadline, not an idle timeout: a client trickling bytes must not hold a slot forever.
    this.handshakeTimer = setTimeout(() => this.drop('handshake timed out'), limits.handshakeTimeoutMs);
    this.handshakeTimer.unref();
    // Reads land in one reused buffer, or straight into the WRITE payload being assembled,
    // instead of a fresh 64 KiB chunk each (see readIntoUserBuffers); 'data' is the fallback.
    const userReads = readIntoUserBuffers(
      socket,
      () => {
        this.direct = this.state === 'transmission' ? this.parser.directTarget(DIRECT_READ_MIN) : null;
        return this.direct ?? this.receiveBuffer;
      },
      (n, buf) => {
        if (buf === this.direct) {
          this.parser.filled(n);
          this.onInput();
        } else {
          this.input.push(this.receiveBuffer.subarray(0, n));
          this.onInput();
          // Requests left unparsed (paused, or a partial header) must not see the next read.
          this.input.detach();
        }
      },
    );
    if (userReads) {
      this.input.copyPayloads = true;
    } else {
      socket.on('data', (chunk: Buffer) => {
        this.input.push(chunk);
        this.onInput();
      });
    }
    socket.on('end', () => {
      this.inputEnded = true;
      // While paused, requests already received still wait in the queue: pumpRequests drains
      // once it has dispatched them.
      if (!this.paused || this.state !== 'transmission') this.drain('client closed its side');
    });
    socket.on('drain', () => this.checkBackpressure());
    socket.on('error', (err) => this.log.debug({ err }, 'socket error'));
    socket.on('close', () => this.closed());
    socket.write(encodeGreeting());
  }

  private onInput(): void {
    try {
      this.pump();
    } catch (err) {
      // A bug must cost this client its connection, never the process.
      this.log.error({ err }, 'internal error while parsing');
      this.drop('internal error');
    }
  }

  /** Destroys the socket; requests still in the device finish into the void. */
  destroy(): void {
    this.socket.destroy();
  }

  /** Completion of a device call (called through the pooled request's bound callback). */
  complete(req: InFlight, value: Buffer | undefined): void {
    if (this.state !== 'closed') {
      if (req.type === NBD_CMD_READ) {
        if (value && value.length === req.length) {
          this.send(encodeSimpleReply(0, req.handleHi, req.handleLo), value);
        } else {
          // A short read would desynchronise the stream; answer EIO without data instead.
          this.log.warn(
            { expected: req.length, got: value?.length },
            'device returned a read of the wrong length',
          );
          this.send(encodeSimpleReply(NBD_EIO, req.handleHi, req.handleLo), null);
        }
      } else {
        this.send(encodeSimpleReply(0, req.handleHi, req.handleLo), null);
      }
    }
    this.release(req);
  }

  fail(req: InFlight, err: unknown): void {
    if (this.state !== 'closed') {
      const errno = nbdErrnoOf(err);
      // Once per connection at warn: a failing device would otherwise flood the log.
      if (this.deviceErrors++ === 0)
        this.log.warn({ err, command: req.type, errno }, 'device request failed');
      else this.log.debug({ err, command: req.type, errno }, 'device request failed');
      this.send(encodeSimpleReply(errno, req.handleHi, req.handleLo), null);
    }
    this.release(req);
  }

  private pump(): void {
    if (this.state === 'handshake') this.pumpHandshake();
    if (this.state === 'transmission') this.pumpRequests();
  }

  private pumpHandshake(): void {
    for (;;) {
      const step = this.handshake.step();
      if (step.kind === 'more') return;
      for (const buf of step.out) this.socket.write(buf);
      if (step.kind === 'close') {
        // An ABORT is a client's normal goodbye (nbdinfo probes end so); the rest are refusals.
        if (step.reason === CLIENT_ABORTED) this.log.debug('client aborted the handshake');
        else this.log.warn({ reason: step.reason }, 'handshake refused');
        this.state = 'closed';
        this.input.clear();
        this.endSocket();
        return;
      }
      if (step.kind === 'transmission') {
        this.enterTransmission(step.export, step.size);
        return;
      }
    }
  }

  private enterTransmission(exp: NbdExport, size: number): void {
    this.state = 'transmission';
    this.device = exp.device;
    this.size = size;
    this.clearHandshakeTimer();
    this.log.debug({ export: exp.name, size }, 'transmission started');
  }

  private pumpRequests(): void {
    const parser = this.parser;
    while (!this.paused && this.state === 'transmission') {
      const result = parser.next();
      if (result === 'more') {
        if (this.inputEnded) this.drain('client closed its side');
        return;
      }
      if (result === 'fault') {
        this.drop(parser.fault === 'bad-magic' ? 'bad request magic' : 'write payload over 32 MiB');
        return;
      }
      this.dispatch();
    }
  }

  /** Validates the request the parser holds and hands it to the device. */
  private dispatch(): void {
    const p = this.parser;
    const type = p.type;
    if (type === NBD_CMD_DISC) {
      this.drain('client sent NBD_CMD_DISC');
      return;
    }
    const req = this.pool.pop() ?? new InFlight(this);
    req.type = type;
    req.handleHi = p.handleHi;
    req.handleLo = p.handleLo;
    req.length = p.length;
    req.cost = type === NBD_CMD_READ || type === NBD_CMD_WRITE ? p.length : 0;
    this.inFlightCount++;
    this.inFlightBytes += req.cost;
    this.checkBackpressure();

    const device = this.device!;
    const fua = (p.flags & NBD_CMD_FLAG_FUA) !== 0;
    const inRange = p.offsetSafe && p.offset + p.length <= this.size;
    let errno = 0;
    let promise: Promise<unknown> | null = null;
    try {
      switch (type) {
        case NBD_CMD_READ:
          if ((p.flags & ~NBD_CMD_FLAG_FUA) !== 0 || p.length > MAX_PAYLOAD_SIZE || !inRange)
            errno = NBD_EINVAL;
          else if (p.length === 0) promise = Promise.resolve(EMPTY);
          else if (p.length >= SPAN_MIN && this.replies.spans && this.sendSpan(device, req, p.offset)) return;
          else promise = device.read(p.offset, p.length);
          break;
        case NBD_CMD_WRITE:
          if ((p.flags & ~NBD_CMD_FLAG_FUA) !== 0) errno = NBD_EINVAL;
          // The spec asks for ENOSPC on writes past the end, like nbdkit does.
          else if (!inRange) errno = NBD_ENOSPC;
          else if (p.length > 0) promise = device.write(p.offset, p.payload!, fua);
          break;
        case NBD_CMD_FLUSH:
          promise = device.flush();
          break;
        case NBD_CMD_TRIM:
          if ((p.flags & ~NBD_CMD_FLAG_FUA) !== 0 || !inRange) errno = NBD_EINVAL;
          else if (p.length > 0) promise = device.trim(p.offset, p.length, fua);
          break;
        case NBD_CMD_WRITE_ZEROES:
          // NO_HOLE only forbids punching; writeZeroes may punch, but the bytes read as zero
          // either way, which is all a client can observe. Passed through without a flag.
          if ((p.flags & ~(NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE)) !== 0) errno = NBD_EINVAL;
          else if (!inRange) errno = NBD_ENOSPC;
          else if (p.length > 0) promise = device.writeZeroes(p.offset, p.length, fua);
          break;
        default:
          errno = NBD_EINVAL;
      }
    } catch (err) {
      req.onFail(err);
      return;
    }
    if (promise) {
      promise.then(req.onDone as (v: unknown) => void, req.onFail);
    } else if (errno !== 0) {
      this.log.debug({ command: type, offset: p.offset, length: p.length, errno }, 'request refused');
      this.send(encodeSimpleReply(errno, req.handleHi, req.handleLo), null);
      this.release(req);
    } else {
      this.complete(req, type === NBD_CMD_READ ? EMPTY : undefined);
    }
  }

  /**
   * Answers a read at once from the file span the device has for it (sendfile from the page
   * cache, no copy); false when it has none and the read goes the copying way.
   */
  private sendSpan(device: BlockDevice, req: InFlight, offset: number): boolean {
    const span = device.readSpan?.(offset, req.length);
    if (!span) return false;
    try {
      this.replies.sendSpan(encodeSimpleReply(0, req.handleHi, req.handleLo), span, req.length);
    } catch (err) {
      // Nothing of the reply was sent (out of descriptors to keep the span): copy it instead.
      this.log.debug({ err }, 'read span not kept; reading it into a buffer');
      return false;
    }
    this.release(req);
    return true;
  }

  private release(req: InFlight): void {
    this.inFlightCount--;
    this.inFlightBytes -= req.cost;
    if (this.pool.length < 256) this.pool.push(req);
    if (this.state === 'draining') {
      if (this.inFlightCount === 0) this.finishDrain();
    } else if (this.state === 'transmission') {
      this.checkBackpressure();
    }
  }

  private send(header: Buffer, data: Buffer | null): void {
    // The only request in flight (QD1): nothing to batch with, so skip the event-loop hop.
    this.replies.send(header, data, this.inFlightCount === 1);
  }

  /** Pauses reading while too much is in flight or unsent, resumes below half of that. */
  private checkBackpressure(): void {
    if (this.state !== 'transmission') return;
    const limits = this.limits;
    const pending = this.inFlightBytes + this.socket.writableLength + this.replies.backlog;
    if (!this.paused) {
      if (pending >= limits.maxInFlightBytes || this.inFlightCount >= limits.maxInFlightRequests) {
        this.paused = true;
        this.socket.pause();
      }
    } else if (pending < limits.maxInFlightBytes / 2 && this.inFlightCount < limits.maxInFlightRequests / 2) {
      this.paused = false;
      this.socket.resume();
      // Requests already received wait in the queue; they need no new 'data' event.
      this.pumpRequests();
    }
  }

  /** Stops reading, lets requests in flight finish and their replies go out, then closes. */
  private drain(reason: string): void {
    if (this.state === 'closed' || this.state === 'draining') return;
    this.log.debug({ reason, inFlight: this.inFlightCount }, 'closing after requests in flight');
    this.state = 'draining';
    this.input.clear();
    if (this.inFlightCount === 0) this.finishDrain();
  }

  private finishDrain(): void {
    // Replies still waiting for the socket go before the end of the stream.
    if (!this.replies.idle) {
      this.replies.whenIdle(() => this.finishDrain());
      return;
    }
    this.state = 'closed';
    this.replies.flush();
    this.endSocket();
  }

  /** Sends what is queued, then closes without waiting for the client to close its side. */
  private endSocket(): void {
    this.socket.end(() => this.socket.destroy());
  }

  private clearHandshakeTimer(): void {
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
  }

  /** Hard disconnect on protocol violation. */
  private drop(reason: string): void {
    if (this.state === 'closed') return;
    this.log.warn({ reason }, 'dropping client');
    this.state = 'closed';
    this.input.clear();
    this.replies.close();
    this.socket.destroy();
  }

  private closed(): void {
    const wasOpen = this.state !== 'closed';
    this.state = 'closed';
    this.input.clear();
    this.replies.close();
    this.clearHandshakeTimer();
    if (wasOpen) this.log.debug('client went away');
    if (this.deviceErrors > 1)
      this.log.warn({ deviceErrors: this.deviceErrors }, 'device errors on this connection');
    this.onClosed(this);
  }
}

const EMPTY = Buffer.alloc(0);
/** Socket reads go to one reused buffer of this size... */
const RECEIVE_BUFFER = 64 * 1024;
/** ...or, once this much of a WRITE payload is missing, straight into the payload. */
const DIRECT_READ_MIN = 16 * 1024;
/** Reads this large are sent from a file span when the device has one (smaller: copied). */
const SPAN_MIN = 64 * 1024;
