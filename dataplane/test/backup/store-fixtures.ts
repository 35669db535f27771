import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RestoreSink } from '../../src/backup/restore-backup.js';
import { Replica } from '../../src/replica/index.js';

/** Test helpers of the backup tests: replicas in temp dirs, restore into files, hashes. */

export const MiB = 1 << 20;

/** Lock timing for tests that are not about locks (Longhorn's 2 s settle costs 2 s per call). */
export const FAST_LOCKS = { settleMs: 20, refreshMs: 60_000, expiryMs: 150_000 };

export class TempDirs {
  private readonly dirs: string[] = [];
  make(prefix: string): string {
    const d = mkdtempSync(join(tmpdir(), `${prefix}-`));
    this.dirs.push(d);
    return d;
  }
  cleanup(): void {
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}

export async function newReplica(dirs: TempDirs, size: number): Promise<Replica> {
  return Replica.create(join(dirs.make('lh-bk-replica'), 'r'), { size });
}

/** Writes `data` at `offset` in pieces of at most 4 MiB. */
export async function writeAt(replica: Replica, offset: number, data: Buffer): Promise<void> {
  for (let i = 0; i < data.length; i += 4 * MiB)
    await replica.write(offset + i, data.subarray(i, i + 4 * MiB));
}

export async function snapshotHash(replica: Replica, snapshot: string): Promise<string> {
  const size = replica.info().size;
  const h = createHash('sha256');
  for (let off = 0; off < size; off += 8 * MiB)
    h.update(await replica.readSnapshot(snapshot, off, Math.min(8 * MiB, size - off)));
  return h.digest('hex');
}

/** A restore target: a sparse file of `size` bytes. */
export async function fileSink(
  path: string,
  size: number,
): Promise<{ sink: RestoreSink; close: () => Promise<string> }> {
  const fh = await open(path, 'w+');
  await fh.truncate(size);
  return {
    sink: {
      write: async (offset, data) => {
        await fh.write(data, 0, data.length, offset);
      },
      zero: async (offset, length) => {
        await fh.write(Buffer.alloc(length), 0, length, offset);
      },
    },
    close: async () => {
      const h = createHash('sha256');
      const buf = Buffer.alloc(8 * MiB);
      for (let off = 0; off < size; off += buf.length) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - off), off);
        h.update(buf.subarray(0, bytesRead));
      }
      await fh.close();
      return h.digest('hex');
    },
  };
}
