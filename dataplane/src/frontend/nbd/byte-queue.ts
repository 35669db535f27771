import { ioBuffers } from '../../block/buffer-pool.js';

/**
 * Received bytes kept as the list of chunks the socket delivered, so that parsing never
 * re-concatenates the whole receive buffer: a header is read in place when it lies in one
 * chunk, and a payload is copied once into its own Buffer (or sliced when it lies in one chunk).
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  /** Index of the first unread chunk in `chunks`. */
  private head = 0;
  /** Read position inside `chunks[head]`. */
  private offset = 0;
  private total = 0;
  /**
   * The chunks pushed are views of a buffer the socket reuses (see connection.ts): payloads are
   * always copied out, and `detach()` copies what is left before the next read.
   */
  copyPayloads = false;

  get length(): number {
    return this.total;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  /**
   * Returns a buffer and a position holding the next `n` contiguous bytes without consuming
   * them: the first chunk itself when it holds them, otherwise `scratch` filled by copying.
   * Call only when `length >= n` and `scratch.length >= n`.
   */
  peek(n: number, scratch: Buffer): { buf: Buffer; pos: number } {
    const first = this.chunks[this.head]!;
    if (first.length - this.offset >= n) {
      this.view.buf = first;
      this.view.pos = this.offset;
      return this.view;
    }
    this.copyOut(scratch, 0, n, false);
    this.view.buf = scratch;
    this.view.pos = 0;
    return this.view;
  }

  private readonly view: { buf: Buffer; pos: number } = { buf: Buffer.alloc(0), pos: 0 };

  /** Drops `n` bytes (n <= length). */
  skip(n: number): void {
    this.total -= n;
    while (n > 0) {
      const first = this.chunks[this.head]!;
      const avail = first.length - this.offset;
      if (n < avail) {
        this.offset += n;
        return;
      }
      n -= avail;
      this.dropFirst();
    }
  }

  /** Takes `n` bytes (n <= length): a slice when they lie in one chunk, else one copy. */
  take(n: number): Buffer {
    if (n === 0) return EMPTY;
    const first = this.chunks[this.head]!;
    if (first.length - this.offset >= n && !this.copyPayloads) {
      const out = first.subarray(this.offset, this.offset + n);
      this.skip(n);
      return out;
    }
    // Large payloads come from the shared pool: the device may give them back once consumed.
    const out = ioBuffers.acquire(n);
    this.copyOut(out, 0, n, true);
    return out;
  }

  /** Replaces the unread bytes by a copy of them, so the chunks they came from can be reused. */
  detach(): void {
    if (this.total === 0) {
      this.clear();
      return;
    }
    const rest = Buffer.allocUnsafe(this.total);
    this.copyOut(rest, 0, this.total, false);
    this.chunks = [rest];
    this.head = 0;
    this.offset = 0;
  }

  /** Moves up to `max` bytes into `target` at `at`; returns how many were moved. */
  readInto(target: Buffer, at: number, max: number): number {
    const n = Math.min(max, this.total);
    if (n > 0) this.copyOut(target, at, n, true);
    return n;
  }

  /** Forgets everything (connection closing). */
  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.offset = 0;
    this.total = 0;
  }

  private copyOut(target: Buffer, at: number, n: number, consume: boolean): void {
    let index = this.head;
    let offset = this.offset;
    let done = 0;
    while (done < n) {
      const chunk = this.chunks[index]!;
      const count = Math.min(chunk.length - offset, n - done);
      chunk.copy(target, at + done, offset, offset + count);
      done += count;
      offset += count;
      if (offset === chunk.length) {
        index++;
        offset = 0;
      }
    }
    if (consume) {
      this.total -= n;
      while (this.head < index) this.dropFirstSlot();
      this.offset = offset;
      this.compact();
    }
  }

  private dropFirst(): void {
    this.dropFirstSlot();
    this.offset = 0;
    this.compact();
  }

  private dropFirstSlot(): void {
    this.chunks[this.head] = EMPTY;
    this.head++;
  }

  /** Keeps the chunk array from growing without bound while avoiding a shift per chunk. */
  private compact(): void {
    if (this.head === this.chunks.length) {
      this.chunks.length = 0;
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}

const EMPTY = Buffer.alloc(0);
