/**
 * Recycled buffers for I/O payloads (4 KiB and up). A fresh 1 MiB Buffer per request
 * is a new ArrayBuffer the GC must find and free; with a few hundred of them a second, V8
 * runs a full mark-compact every 40-100 ms (measured in the engine: 20-25 a second, a third of
 * its CPU at 1 MiB QD16). Recycling them removes that.
 *
 * Ownership is explicit: whoever holds the last reference to an acquired buffer (the NBD
 * frontend once a read reply has left for the kernel, the replica server once a read response
 * has) releases it. Releasing a buffer the pool did not hand out, or one already released, is
 * ignored, so a holder that is unsure may release; a holder that keeps a buffer simply does not
 * release it and the GC takes it as before.
 */

/** Smallest payload recycled: below half of this Node carves buffers from its own 8 KiB slabs. */
export const MIN_POOLED = 4096;
/** Idle bytes kept (all sizes together), so a burst does not pin memory forever. */
const MAX_IDLE_BYTES = 64 * 1024 * 1024;

export class BufferPool {
  private readonly idle = new Map<number, Buffer[]>();
  /** Buffers handed out and not yet released, by their ArrayBuffer (a Buffer may be re-wrapped). */
  private readonly out = new WeakSet<ArrayBufferLike>();
  private idleBytes = 0;

  /** A buffer of exactly `size` bytes, recycled when one is idle; contents are undefined. */
  acquire(size: number): Buffer {
    if (size < MIN_POOLED) return Buffer.allocUnsafe(size);
    let buf = this.idle.get(size)?.pop();
    if (buf) this.idleBytes -= size;
    else buf = Buffer.allocUnsafeSlow(size);
    this.out.add(buf.buffer);
    return buf;
  }

  /** Gives a buffer back. Anything the pool did not hand out (or already got back) is ignored. */
  release(buf: Buffer): void {
    const ab = buf.buffer;
    if (!this.out.has(ab) || buf.byteOffset !== 0 || buf.length !== ab.byteLength) return;
    this.out.delete(ab);
    if (this.idleBytes + buf.length > MAX_IDLE_BYTES) return;
    let list = this.idle.get(buf.length);
    if (!list) {
      list = [];
      this.idle.set(buf.length, list);
    }
    list.push(buf);
    this.idleBytes += buf.length;
  }

  /** True for a buffer handed out and not yet released. */
  owns(buf: Buffer): boolean {
    return this.out.has(buf.buffer);
  }
}

/** The process-wide pool for block I/O payloads. */
export const ioBuffers = new BufferPool();
