import { type BlockDevice, BlockError } from '../../src/block/index.js';

/** A BlockDevice in one Buffer: enough to test the NBD frontend against real clients. */
export class MemoryBlockDevice implements BlockDevice {
  readonly canMultiConn = true;
  readonly data: Buffer;
  flushes = 0;
  /** When set, every call rejects with this error (to test errno mapping). */
  failWith: Error | null = null;

  constructor(size: number) {
    this.data = Buffer.alloc(size);
  }

  size(): number {
    return this.data.length;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    this.check(offset, length);
    return Buffer.from(this.data.subarray(offset, offset + length));
  }

  async write(offset: number, data: Buffer, _fua: boolean): Promise<void> {
    this.check(offset, data.length);
    data.copy(this.data, offset);
  }

  async flush(): Promise<void> {
    this.check(0, 0);
    this.flushes++;
  }

  async trim(offset: number, length: number, _fua: boolean): Promise<void> {
    this.check(offset, length);
    this.data.fill(0, offset, offset + length);
  }

  async writeZeroes(offset: number, length: number, _fua: boolean): Promise<void> {
    this.check(offset, length);
    this.data.fill(0, offset, offset + length);
  }

  private check(offset: number, length: number): void {
    if (this.failWith) throw this.failWith;
    if (offset < 0 || length < 0 || offset + length > this.data.length) {
      throw new BlockError('EINVAL', `range ${offset}+${length} outside ${this.data.length}`);
    }
  }
}
