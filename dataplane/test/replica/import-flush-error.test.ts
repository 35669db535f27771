import fs from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { tempDir } from './helpers.js';

/**
 * A large import is flushed early, in the background (layer-store's writeBack). Linux reports
 * a writeback error to one fdatasync only, so an error met by an early flush must fail the
 * commit even though the commit's own fdatasync then succeeds.
 */
const failNext = { on: false };
vi.mock('../../src/replica/file-io.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/replica/file-io.js')>();
  return {
    ...real,
    fdatasync: (fd: number) => {
      if (failNext.on) {
        failNext.on = false;
        return Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
      }
      return real.fdatasync(fd);
    },
  };
});

const { Replica } = await import('../../src/replica/index.js');

const MiB = 1 << 20;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  failNext.on = false;
  for (const c of cleanups.splice(0)) await c();
});

describe('an early flush of an import that fails', () => {
  it('fails the commit (every time asked), and the import can still be aborted', async () => {
    const { dir, cleanup } = await tempDir('import-flush');
    cleanups.push(cleanup);
    const replica = await Replica.create(dir, { size: 64 * MiB });
    await replica.importLayer({ name: 'x', parent: null });
    failNext.on = true;
    // 40 MiB one piece after the other: the first early flush starts (and fails) past 32 MiB.
    for (let off = 0; off < 40 * MiB; off += 2 * MiB) {
      await replica.writeLayer('x', off, Buffer.alloc(2 * MiB, 7));
    }
    expect(failNext.on).toBe(false);
    await expect(replica.finishImport()).rejects.toMatchObject({ code: 'EIO' });
    await expect(replica.finishImport()).rejects.toMatchObject({ code: 'EIO' });
    expect(replica.chain().map((l) => l.name)).toEqual([replica.info().headName]);
    await replica.abortImport();
    expect(fs.readdirSync(dir).some((f) => f.includes('-x'))).toBe(false);
    // A new import after the abort commits as usual.
    await replica.importLayer({ name: 'x', parent: null });
    await replica.writeLayer('x', 0, Buffer.alloc(4096, 1));
    await replica.finishImport();
    expect(replica.chain().map((l) => l.name)).toEqual(['x', replica.info().headName]);
    await replica.close();
  });
});
