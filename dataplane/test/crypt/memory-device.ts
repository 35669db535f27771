import type { BlockDevice } from '../../src/block/block-device.js';

/**
 * A BlockDevice in memory for the encryption layer's unit tests: zero-filled (never-written
 * blocks read as zeros, as replicas' holes do), optionally answering each call after a random
 * few event-loop turns so concurrent requests interleave.
 */
export class MemoryDevice implements BlockDevice {
  readonly data: Buffer;
  readonly canMultiConn = true;
  calls: string[] = [];
  jitter = false;

  constructor(size: number) {
    this.data = Buffer.alloc(size);
  }

  size(): number {
    return this.data.length;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    await this.turn(`read ${offset}+${length}`);
    return Buffer.from(this.data.subarray(offset, offset + length));
  }

  async write(offset: number, data: Buffer): Promise<void> {
    const copy = Buffer.from(data);
    await this.turn(`write ${offset}+${data.length}`);
    copy.copy(this.data, offset);
  }

  async flush(): Promise<void> {
    await this.turn('flush');
  }

  async trim(offset: number, length: number): Promise<void> {
    await this.turn(`trim ${offset}+${length}`);
    this.data.fill(0, offset, offset + length);
  }

  async writeZeroes(offset: number, length: number): Promise<void> {
    await this.turn(`zero ${offset}+${length}`);
    this.data.fill(0, offset, offset + length);
  }

  private async turn(call: string): Promise<void> {
    this.calls.push(call);
    if (!this.jitter) return;
    const turns = Math.floor(Math.random() * 4);
    for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
  }
}
