import { type FileHandle, open } from 'node:fs/promises';
import { type BlockDevice, BlockError } from '../../src/block/index.js';

const ZERO_CHUNK = Buffer.alloc(1024 * 1024);

/**
 * A BlockDevice over one plain file with positional I/O: the anchor the NBD benchmark serves
 * to compare the frontend alone against nbdkit's file plugin on the same disk.
 */
export class FileBlockDevice implements BlockDevice {
  readonly canMultiConn = true;

  private constructor(
    private readonly file: FileHandle,
    private readonly bytes: number,
  ) {}

  /** Opens (creating if needed) `path` and sizes it to `size` bytes (sparse). */
  static async open(path: string, size: number): Promise<FileBlockDevice> {
    const file = await open(path, 'a+')
      .then((f) => f.close())
      .then(() => open(path, 'r+'));
    await file.truncate(size);
    return new FileBlockDevice(file, size);
  }

  size(): number {
    return this.bytes;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    this.check(offset, length);
    const out = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.file.read(out, done, length - done, offset + done);
      if (bytesRead === 0) {
        out.fill(0, done);
        break;
      }
      done += bytesRead;
    }
    return out;
  }

  async write(offset: number, data: Buffer, fua: boolean): Promise<void> {
    this.check(offset, data.length);
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.file.write(data, done, data.length - done, offset + done);
      done += bytesWritten;
    }
    if (fua) await this.file.datasync();
  }

  flush(): Promise<void> {
    return this.file.datasync();
  }

  trim(offset: number, length: number, fua: boolean): Promise<void> {
    return this.writeZeroes(offset, length, fua);
  }

  async writeZeroes(offset: number, length: number, fua: boolean): Promise<void> {
    this.check(offset, length);
    for (let done = 0; done < length; done += ZERO_CHUNK.length) {
      const n = Math.min(ZERO_CHUNK.length, length - done);
      await this.file.write(ZERO_CHUNK, 0, n, offset + done);
    }
    if (fua) await this.file.datasync();
  }

  close(): Promise<void> {
    return this.file.close();
  }

  private check(offset: number, length: number): void {
    if (offset < 0 || length < 0 || offset + length > this.bytes) {
      throw new BlockError('EINVAL', `range ${offset}+${length} outside ${this.bytes}`);
    }
  }
}
