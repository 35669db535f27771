import fs from 'node:fs';
import type { Socket } from 'node:net';
import type { FileSpan } from '../../block/block-device.js';
import { ioBuffers } from '../../block/buffer-pool.js';
import type { WaitHandle, ZeroCopy } from '../../net/zerocopy.js';

/** A reply not yet handed to the socket: bytes in Buffers, or a header and a file span. */
interface Pending {
  header: Buffer;
  data: Buffer | null;
  /** For a span, its file (a duplicate this sender closes once `owned`), else -1. */
  fd: number;
  owned: boolean;
  position: number;
  length: number;
  /** Bytes of header + span already sent. */
  sent: number;
}

/**
 * Puts one connection's replies on its socket, in order. Replies in Buffers go through the
 * socket, corked and batched once per event-loop turn so replies completed together leave in
 * one writev. A read reply from a file span goes out by sendfile from the page cache, straight
 * from the event loop and only while Node holds no bytes of its own for the socket; once the
 * socket is full, the rest of that span and every reply after it wait their turn here (spans
 * on a duplicate fd) until the socket takes more.
 *
 * Spans are sent on this sender's own duplicate of the socket, so a socket Node has destroyed
 * never has its fd number reused under a send; `close` (due once the socket closes) releases it.
 */
export class ReplySender {
  private corked = false;
  /** A span part sent, then every reply after it. */
  private readonly waiting: Pending[] = [];
  private waitingBytes = 0;
  private wait: WaitHandle | null = null;
  private onIdle: (() => void) | null = null;
  private readonly fd: number;
  private closed = false;
  private readonly uncork = (): void => {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
    this.onProgress();
  };
  private readonly onWritable = (err: Error | null): void => {
    this.wait = null;
    if (this.closed) return;
    if (err) this.fail(err);
    else this.pump();
  };

  constructor(
    private readonly socket: Socket,
    private readonly zc: ZeroCopy | null,
    /** The socket's fd, or -1 when it has none (spans are then never sent). */
    socketFd: number,
    /** Replies left this sender (to re-check backpressure). */
    private readonly onProgress: () => void,
    /** Sending a span failed, maybe midway: the connection cannot continue. */
    private readonly onFailure: (err: unknown) => void,
  ) {
    let fd = -1;
    try {
      if (zc && socketFd >= 0) fd = zc.dupFd(socketFd);
    } catch {
      // Out of descriptors: this connection's replies are all copied.
    }
    this.fd = fd;
  }

  /** True when read replies may be spans: the addon is there and the socket is a plain fd. */
  get spans(): boolean {
    return this.fd >= 0 && !this.closed;
  }

  /** Bytes of replies waiting here (not yet handed to the socket or the kernel). */
  get backlog(): number {
    return this.waitingBytes;
  }

  /** True while nothing waits here: every reply so far is with the socket or the kernel. */
  get idle(): boolean {
    return this.waiting.length === 0;
  }

  /**
   * Sends a reply. With `immediate` (the only request in flight: nothing to batch with) it is
   * written at once instead of at the end of this event-loop turn.
   */
  send(header: Buffer, data: Buffer | null, immediate: boolean): void {
    if (this.waiting.length > 0) {
      this.enqueue({
        header,
        data,
        fd: -1,
        owned: false,
        position: 0,
        length: data ? data.length : 0,
        sent: 0,
      });
      return;
    }
    const socket = this.socket;
    if (immediate && !this.corked) {
      if (data) {
        socket.cork();
        socket.write(header);
        writeData(socket, data);
        socket.uncork();
      } else {
        socket.write(header);
      }
      return;
    }
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      setImmediate(this.uncork);
    }
    socket.write(header);
    if (data) writeData(socket, data);
  }

  /**
   * Sends a read reply whose `length` bytes are `span` (valid for this turn of the event loop
   * only: a span that must wait is kept on a duplicate of its fd). Only while `spans`.
   */
  sendSpan(header: Buffer, span: FileSpan, length: number): void {
    const p: Pending = {
      header,
      data: null,
      fd: span.fd,
      owned: false,
      position: span.position,
      length,
      sent: 0,
    };
    if (this.waiting.length === 0) {
      // Replies already batched go first, so the stream stays in order.
      this.uncork();
      if (this.socket.writableLength === 0 && this.advance(p)) return;
    }
    if (this.closed) return;
    try {
      p.fd = this.zc!.dupFd(p.fd);
    } catch (err) {
      // Out of descriptors: with nothing sent the caller reads it by copying instead; with
      // part of the reply on the wire the stream cannot continue.
      if (p.sent === 0) throw err;
      this.fail(err);
      return;
    }
    p.owned = true;
    this.enqueue(p);
  }

  /** Calls `fn` once nothing waits here any more (replacing an earlier call's `fn`). */
  whenIdle(fn: () => void): void {
    if (this.waiting.length === 0) fn();
    else this.onIdle = fn;
  }

  /** Hands batched replies to the socket now rather than at the end of this turn. */
  flush(): void {
    this.uncork();
  }

  /** Stops waiting and closes the duplicates; replies not sent yet are dropped. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onIdle = null;
    if (this.wait) this.zc!.cancelWait(this.wait);
    this.wait = null;
    for (const p of this.waiting.splice(0)) closeOwned(p);
    this.waitingBytes = 0;
    if (this.fd >= 0) fs.closeSync(this.fd);
  }

  private enqueue(p: Pending): void {
    this.waiting.push(p);
    this.waitingBytes += p.length;
    this.waitForSocket();
  }

  /** Sends as much of a span reply as the socket takes now; true when all of it went. */
  private advance(p: Pending): boolean {
    try {
      p.sent = this.zc!.sendSpan(this.fd, p.header, p.fd, p.position, p.length, p.sent);
    } catch (err) {
      this.fail(err);
      return false;
    }
    if (p.sent < p.header.length + p.length) return false;
    closeOwned(p);
    return true;
  }

  private fail(err: unknown): void {
    // Part of a reply may be on the wire: the stream cannot be resynchronised.
    this.close();
    this.onFailure(err);
  }

  private waitForSocket(): void {
    if (this.wait || this.closed) return;
    try {
      this.wait = this.zc!.whenWritable(this.fd, this.onWritable);
    } catch (err) {
      // Nothing would ever send what waits (out of descriptors for the watch).
      this.fail(err);
    }
  }

  /** The socket takes bytes again: sends what waits, in order, until it is full again. */
  private pump(): void {
    while (this.waiting.length > 0 && !this.closed) {
      const p = this.waiting[0]!;
      if (p.fd >= 0) {
        // A span: only once Node has handed the kernel every byte written before it.
        if (this.socket.writableLength > 0 || !this.advance(p)) break;
      } else {
        this.socket.write(p.header);
        if (p.data) writeData(this.socket, p.data);
      }
      this.waiting.shift();
      this.waitingBytes -= p.length;
    }
    if (this.waiting.length > 0) {
      this.waitForSocket();
    } else if (this.onIdle) {
      const fn = this.onIdle;
      this.onIdle = null;
      fn();
    }
    this.onProgress();
  }
}

function closeOwned(p: Pending): void {
  if (p.owned) fs.closeSync(p.fd);
  p.owned = false;
}

/**
 * Writes read data; a buffer from the shared pool goes back to it once the kernel has it (the
 * device handed it over with the reply, so nothing else holds it).
 */
function writeData(socket: Socket, data: Buffer): void {
  if (ioBuffers.owns(data)) {
    socket.write(data, (err) => {
      if (!err) ioBuffers.release(data);
    });
  } else {
    socket.write(data);
  }
}
