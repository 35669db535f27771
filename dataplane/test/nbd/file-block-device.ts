import { close, fdatasync, ftruncate, open, read, write } from 'node:fs';
import { type BlockDevice, BlockError } from '../../src/block/index.js';

const ZERO_CHUNK = Buffer.alloc(1024 * 1024);

/**
 * A BlockDevice over one plain file with positional I/O on a raw descriptor: the anchor the
 * NBD benchmark serves to compare the frontend against nbdkit's file plugin on the same disk.
 * Callback fs calls, not FileHandle: measured here, FileHandle costs more per 4 KiB request.
 */
export class FileBlockDevice implements BlockDevice {
  readonly canMultiConn = true;

  private constructor(
    private readonly fd: number,
    private readonly bytes: number,
  ) {}

  /** Opens (creating if needed) `path` and sizes it to `size` bytes (sparse). */
  static open(path: string, size: number): Promise<FileBlockDevice> {
    return new Promise((resolve, reject) => {
      open(path, 'a+', (err, created) => {
        if (err) return reject(err);
        close(created, () => {
          open(path, 'r+', (err2, fd) => {
            if (err2) return reject(err2);
            ftruncate(fd, size, (err3) => (err3 ? reject(err3) : resolve(new FileBlockDevice(fd, size))));
          });
        });
      });
    });
  }

  size(): number {
    return this.bytes;
  }

  read(offset: number, length: number): Promise<Buffer> {
    this.check(offset, length);
    const out = Buffer.allocUnsafe(length);
    return new Promise((resolve, reject) => {
      const step = (done: number): void => {
        read(this.fd, out, done, length - done, offset + done, (err, n) => {
          if (err) return reject(err);
          if (n === 0) {
            out.fill(0, done);
            return resolve(out);
          }
          if (done + n === length) return resolve(out);
          step(done + n);
        });
      };
      step(0);
    });
  }

  write(offset: number, data: Buffer, fua: boolean): Promise<void> {
    this.check(offset, data.length);
    return new Promise((resolve, reject) => {
      const step = (done: number): void => {
        write(this.fd, data, done, data.length - done, offset + done, (err, n) => {
          if (err) return reject(err);
          if (done + n < data.length) return step(done + n);
          if (!fua) return resolve();
          fdatasync(this.fd, (err2) => (err2 ? reject(err2) : resolve()));
        });
      };
      step(0);
    });
  }

  flush(): Promise<void> {
    return new Promise((resolve, reject) => fdatasync(this.fd, (err) => (err ? reject(err) : resolve())));
  }

  trim(offset: number, length: number, fua: boolean): Promise<void> {
    return this.writeZeroes(offset, length, fua);
  }

  async writeZeroes(offset: number, length: number, fua: boolean): Promise<void> {
    this.check(offset, length);
    for (let done = 0; done < length; done += ZERO_CHUNK.length) {
      await this.write(
        offset + done,
        ZERO_CHUNK.subarray(0, Math.min(ZERO_CHUNK.length, length - done)),
        false,
      );
    }
    if (fua) await this.flush();
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => close(this.fd, (err) => (err ? reject(err) : resolve())));
  }

  private check(offset: number, length: number): void {
    if (offset < 0 || length < 0 || offset + length > this.bytes) {
      throw new BlockError('EINVAL', `range ${offset}+${length} outside ${this.bytes}`);
    }
  }
}
