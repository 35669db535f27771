import type { Socket } from 'node:net';
import { ioBuffers } from '../block/buffer-pool.js';
import { encodeHeader } from './codec.js';

/**
 * Writes frames to a socket, batching every frame queued in the same event-loop turn into one
 * writev: the socket is corked on the first frame and uncorked in setImmediate. Per tick
 * (nextTick) was too fine: the replica server's reads complete in one libuv callback each, so
 * every response left in its own syscall.
 */
export class FrameWriter {
  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };

  constructor(private readonly socket: Socket) {}

  /**
   * Queues one frame. `prefix` (optional) and `data` are sent back to back as the payload.
   * With `releaseData`, a `data` buffer from the shared pool goes back to it once written (the
   * caller holds no other reference: a response's payload).
   */
  send(
    seq: number,
    type: number,
    offset: number,
    size: number,
    data?: Buffer,
    prefix?: Buffer,
    releaseData = false,
  ): void {
    const socket = this.socket;
    if (socket.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      setImmediate(this.uncork);
    }
    const dataLength = (data ? data.length : 0) + (prefix ? prefix.length : 0);
    socket.write(encodeHeader(seq, type, offset, size, dataLength));
    if (prefix && prefix.length > 0) socket.write(prefix);
    if (!data || data.length === 0) return;
    if (releaseData && ioBuffers.owns(data)) {
      socket.write(data, (err) => {
        if (!err) ioBuffers.release(data);
      });
    } else {
      socket.write(data);
    }
  }
}
