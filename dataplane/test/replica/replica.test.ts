import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Replica } from '../../src/replica/index.js';
import { tempDir } from './helpers.js';

const MiB = 1 << 20;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function fresh(size: number): Promise<{ dir: string; replica: Replica }> {
  const { dir, cleanup } = await tempDir('replica');
  cleanups.push(cleanup);
  return { dir, replica: await Replica.create(dir, { size }) };
}

/** Bytes the file system has allocated for every file in the directory (stat blocks). */
function allocated(dir: string, match = /\.img$/): number {
  return fs
    .readdirSync(dir)
    .filter((f) => match.test(f))
    .reduce((sum, f) => sum + fs.statSync(path.join(dir, f)).blocks * 512, 0);
}

const fill = (n: number, byte: number): Buffer => Buffer.alloc(n, byte);

describe('Replica', () => {
  it('snapshots by hard link, keeps metadata, and lists the chain as a tree', async () => {
    const { dir, replica } = await fresh(4 * MiB);
    await replica.write(0, fill(MiB, 1));
    await replica.snapshot('a', { labels: { k: 'v' }, userCreated: false, created: '2026-01-02T03:04:05Z' });
    await replica.write(MiB, fill(MiB, 2));
    await replica.snapshot('b');
    await replica.revert('a');
    await replica.write(0, fill(4096, 3));
    await replica.snapshot('c');
    const chain = replica.chain();
    const byName = new Map(chain.map((l) => [l.name, l]));
    expect(chain.map((l) => l.name)).toEqual(['a', 'b', 'c', replica.info().headName]);
    expect(byName.get('a')).toMatchObject({
      parent: null,
      children: ['b', 'c'],
      labels: { k: 'v' },
      userCreated: false,
      created: '2026-01-02T03:04:05Z',
      allocatedBytes: MiB,
    });
    expect(byName.get('b')).toMatchObject({ parent: 'a', userCreated: true, allocatedBytes: MiB });
    expect(byName.get('c')).toMatchObject({ parent: 'a', allocatedBytes: 4096 });
    // The snapshot is the head's inode under a new name: same allocation, no copy.
    expect(fs.statSync(path.join(dir, 'volume-snap-a.img')).nlink).toBe(1);
    expect(await replica.allocatedRanges('b')).toEqual([{ offset: MiB, length: MiB }]);
    expect(await replica.allocatedRanges()).toEqual([{ offset: 0, length: MiB }]);
    expect((await replica.readSnapshot('b', MiB - 1, 2)).equals(Buffer.from([1, 2]))).toBe(true);
    expect((await replica.readLayer('b', MiB - 1, 2)).equals(Buffer.from([0, 2]))).toBe(true);
    await replica.close();
    const again = await Replica.open(dir);
    expect(again.chain().map((l) => [l.name, l.parent, l.allocatedBytes])).toEqual(
      chain.map((l) => [l.name, l.parent, l.allocatedBytes]),
    );
    await again.close();
  });

  it('purge prunes behind the head and coalesces, freeing space on the file system', async () => {
    const { dir, replica } = await fresh(16 * MiB);
    await replica.write(0, fill(8 * MiB, 1));
    await replica.snapshot('a');
    await replica.write(0, fill(8 * MiB, 2));
    await replica.markRemoved('a');
    const before = allocated(dir);
    expect(before).toBeGreaterThanOrEqual(16 * MiB);
    expect(await replica.purge()).toEqual(['a']); // prune: the head covers all of a
    expect(allocated(dir)).toBeLessThanOrEqual(before - 8 * MiB + 64 * 1024);
    expect(replica.chain().find((l) => l.name === 'a')?.allocatedBytes).toBe(0);

    // Coalesce: b (removed) folds into its only child c; only c's copy of the data remains.
    await replica.snapshot('b');
    await replica.write(8 * MiB, fill(4 * MiB, 3));
    await replica.snapshot('c');
    await replica.markRemoved('b');
    expect((await replica.purge()).sort()).toEqual(['a', 'b']);
    const names = replica.chain().map((l) => l.name);
    expect(names).not.toContain('b');
    expect(names).not.toContain('a'); // a (removed, pruned) now had one non-head child: folded too
    expect(replica.chain().find((l) => l.name === 'c')?.parent).toBe(null);
    expect(
      (await replica.read(0, 12 * MiB)).equals(Buffer.concat([fill(8 * MiB, 2), fill(4 * MiB, 3)])),
    ).toBe(true);
    expect((await replica.readSnapshot('c', 0, 12 * MiB)).equals(await replica.read(0, 12 * MiB))).toBe(true);
    expect(allocated(dir)).toBeLessThanOrEqual(12 * MiB + 64 * 1024);
    await replica.close();
  });

  it('unmap and write-zeroes punch holes in the head (space freed) but never expose snapshots wrongly', async () => {
    const { dir, replica } = await fresh(8 * MiB);
    await replica.write(0, fill(4 * MiB, 5));
    const head = () => allocated(dir, /^volume-head/);
    expect(head()).toBeGreaterThanOrEqual(4 * MiB);
    await replica.unmap(0, 2 * MiB);
    await replica.writeZeroes(2 * MiB, 2 * MiB);
    expect(head()).toBeLessThan(64 * 1024);
    expect((await replica.read(0, 4 * MiB)).equals(fill(4 * MiB, 0))).toBe(true);
    expect(await replica.allocatedRanges()).toEqual([]);

    await replica.write(0, fill(MiB, 6));
    await replica.snapshot('s');
    await replica.writeZeroes(100, 3 * 4096);
    const want = fill(MiB, 6);
    want.fill(0, 100, 100 + 3 * 4096);
    expect((await replica.read(0, MiB)).equals(want)).toBe(true);
    await replica.unmap(0, MiB); // trim behind a snapshot: the snapshot's data shows again
    expect((await replica.read(0, MiB)).equals(fill(MiB, 6))).toBe(true);
    await replica.close();
  });

  it('keeps concurrent unaligned writes to the same blocks from losing each other', async () => {
    const { replica } = await fresh(MiB);
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 256; i++) writes.push(replica.write(i * 16, fill(16, (i % 250) + 1)));
    await Promise.all(writes);
    const got = await replica.read(0, 4096);
    for (let i = 0; i < 256; i++) expect(got[i * 16]).toBe((i % 250) + 1);
    await replica.close();
  });

  it('keeps every write when snapshots, deletes and purges run between concurrent writes', async () => {
    const { dir, replica } = await fresh(MiB);
    const want = Buffer.alloc(MiB);
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < 300; i++) {
      // Non-overlapping, mostly unaligned pieces, several per block.
      const offset = i * 3000 + (i % 7);
      const data = fill(1000 + (i % 5) * 300, (i % 255) + 1);
      data.copy(want, offset);
      pending.push(replica.write(offset, data));
      if (i % 40 === 10) pending.push(replica.snapshot(`c${i}`));
      if (i % 40 === 30) pending.push(replica.markRemoved(`c${i - 20}`).then(() => replica.purge()));
    }
    await Promise.all(pending);
    expect((await replica.read(0, MiB)).equals(want)).toBe(true);
    await replica.close();
    const again = await Replica.open(dir);
    expect((await again.read(0, MiB)).equals(want)).toBe(true);
    await again.close();
  });

  it('serves I/O while purge coalesces, with unchanged views throughout', async () => {
    const { replica } = await fresh(16 * MiB);
    await replica.write(0, fill(8 * MiB, 1));
    await replica.snapshot('old');
    await replica.write(4 * MiB, fill(MiB, 2));
    await replica.snapshot('mid');
    await replica.markRemoved('old');
    const want = await replica.read(0, 8 * MiB);
    const purge = replica.purge();
    let reads = 0;
    let done = false;
    void purge.finally(() => {
      done = true;
    });
    while (!done) {
      // Reads of the part purge folds, writes elsewhere: both proceed during the copy.
      expect((await replica.read(0, 8 * MiB)).equals(want)).toBe(true);
      await replica.write(12 * MiB + (reads % 64) * 4096, fill(4096, 3));
      reads++;
    }
    expect(await purge).toEqual(['old']);
    expect((await replica.readSnapshot('mid', 0, 8 * MiB)).equals(want)).toBe(true);
    expect(replica.chain().find((l) => l.name === 'mid')?.parent).toBe(null);
    await replica.close();
  });

  it('expands: the head grows, older snapshots read as zeros past their size', async () => {
    const { dir, replica } = await fresh(MiB);
    await replica.write(MiB - 4096, fill(4096, 1));
    await replica.snapshot('small');
    await replica.expand(2 * MiB);
    expect(replica.info().size).toBe(2 * MiB);
    await replica.write(2 * MiB - 4096, fill(4096, 2));
    expect((await replica.read(MiB - 1, 2)).equals(Buffer.from([1, 0]))).toBe(true);
    await replica.revert('small');
    expect(replica.info().size).toBe(2 * MiB);
    expect((await replica.read(2 * MiB - 4096, 4096)).equals(fill(4096, 0))).toBe(true);
    expect(replica.chain().find((l) => l.name === 'small')?.size).toBe(MiB);
    await replica.close();
    const again = await Replica.open(dir);
    expect(again.info().size).toBe(2 * MiB);
    await again.close();
  });

  it('keeps the generation, and marks dirty regions until markClean, across clean closes', async () => {
    const { dir, replica } = await fresh(64 * MiB);
    expect(replica.info()).toMatchObject({ generation: 0, dirty: false, sectorSize: 512 });
    await replica.setGeneration(7);
    await replica.write(5 * MiB + 10, fill(10, 1));
    await replica.unmap(40 * MiB, 2 * MiB);
    expect(replica.dirtyRanges()).toEqual([
      { offset: 4 * MiB, length: 4 * MiB },
      { offset: 40 * MiB, length: 4 * MiB },
    ]);
    await replica.markClean();
    expect(replica.dirtyRanges()).toEqual([]);
    await replica.write(0, fill(4096, 1));
    // Simulate a crash: copy the directory as it is now (everything written is in it).
    const { dir: copy, cleanup } = await tempDir('replica-copy');
    cleanups.push(cleanup);
    fs.cpSync(dir, copy, { recursive: true });
    await replica.close();
    // A clean close keeps the bits: other replicas may lack what this one wrote (issue 7 #5).
    const clean = await Replica.open(dir);
    expect(clean.info()).toMatchObject({ generation: 7, dirty: false });
    expect(clean.dirtyRanges()).toEqual([{ offset: 0, length: 4 * MiB }]);
    // A session that writes only to regions marked before still marks the replica dirty first.
    await clean.write(4096, fill(4096, 2));
    const { dir: copy2, cleanup: cleanup2 } = await tempDir('replica-copy');
    cleanups.push(cleanup2);
    fs.cpSync(dir, copy2, { recursive: true });
    const crashedAgain = await Replica.open(copy2);
    expect(crashedAgain.info()).toMatchObject({ dirty: true });
    expect(crashedAgain.dirtyRanges()).toEqual([{ offset: 0, length: 4 * MiB }]);
    await crashedAgain.close();
    await clean.markClean();
    await clean.close();
    const cleaned = await Replica.open(dir);
    expect(cleaned.info()).toMatchObject({ generation: 7, dirty: false });
    expect(cleaned.dirtyRanges()).toEqual([]);
    await cleaned.close();
    const crashed = await Replica.open(copy);
    expect(crashed.info()).toMatchObject({ generation: 7, dirty: true });
    expect(crashed.dirtyRanges()).toEqual([{ offset: 0, length: 4 * MiB }]);
    await crashed.close();
  });

  it('imports layers for a rebuild and commits them at once', async () => {
    const src = await fresh(2 * MiB);
    await src.replica.write(0, fill(MiB, 1));
    await src.replica.snapshot('a');
    await src.replica.write(MiB, fill(4096, 2));
    await src.replica.snapshot('rebuild');

    // The new replica has its own (empty) system snapshot 'rebuild' with the head on top.
    const dst = await fresh(2 * MiB);
    await dst.replica.snapshot('rebuild', { userCreated: false });
    await dst.replica.write(8192, fill(4096, 9)); // a WO write that arrived meanwhile
    for (const layer of src.replica.chain().slice(0, -1)) {
      await dst.replica.importLayer({ name: layer.name, parent: layer.parent, created: layer.created });
      for (const r of await src.replica.allocatedRanges(layer.name)) {
        await dst.replica.writeLayer(
          layer.name,
          r.offset,
          await src.replica.readLayer(layer.name, r.offset, r.length),
        );
      }
    }
    expect(dst.replica.chain().map((l) => l.name)).toEqual(['rebuild', dst.replica.info().headName]);
    await dst.replica.finishImport();
    const want = await src.replica.read(0, 2 * MiB);
    want.fill(9, 8192, 8192 + 4096);
    expect((await dst.replica.read(0, 2 * MiB)).equals(want)).toBe(true);
    expect(dst.replica.chain().map((l) => [l.name, l.parent])).toEqual([
      ['a', null],
      ['rebuild', 'a'],
      [dst.replica.info().headName, 'rebuild'],
    ]);
    await dst.replica.close();
    const again = await Replica.open(dst.dir);
    expect((await again.read(0, 2 * MiB)).equals(want)).toBe(true);
    await again.close();

    // An import whose parent is missing is refused, and abort leaves no trace.
    await src.replica.importLayer({ name: 'orphan', parent: 'nowhere' });
    await expect(src.replica.finishImport()).rejects.toMatchObject({ code: 'IMPORT_INVALID' });
    await src.replica.abortImport();
    expect(fs.readdirSync(src.dir).some((f) => f.includes('orphan'))).toBe(false);
    await src.replica.close();
  });

  it('imports aligned writes around the page cache and unaligned ones through it, same bytes', async () => {
    const size = 8 * MiB;
    const { dir, replica } = await fresh(size);
    const want = Buffer.alloc(size);
    const put = async (offset: number, data: Buffer) => {
      await replica.writeLayer('x', offset, data);
      data.copy(want, offset);
    };
    const pattern = (n: number, seed: number) =>
      Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) & 255));
    await replica.importLayer({ name: 'x', parent: null });
    await put(0, pattern(3 * MiB, 1)); // larger than one staging slot
    await put(4 * MiB, pattern(8192 + 4096, 2).subarray(4096)); // a view at an offset
    await put(5 * MiB + 100, pattern(300, 3)); // unaligned: through the page cache
    await put(5 * MiB, pattern(4096, 4)); // aligned again, over the cached block
    await put(6 * MiB + 4096, pattern(4096 * 3 + 512, 5)); // unaligned length
    await put(7 * MiB, pattern(64 * 1024, 6));
    // An aligned and an unaligned write to the same page at once: either order, never a mix.
    const a = pattern(8192, 7);
    const b = pattern(300, 8);
    await Promise.all([
      replica.writeLayer('x', 7 * MiB + 65536, a),
      replica.writeLayer('x', 7 * MiB + 65536 + 100, b),
    ]);
    a.copy(want, 7 * MiB + 65536);
    const aThenB = Buffer.from(want);
    b.copy(aThenB, 7 * MiB + 65536 + 100);
    await replica.finishImport();
    await replica.revert('x');
    const bytes = await replica.read(0, size);
    const expected = bytes.equals(aThenB) ? aThenB : want; // else b then a
    expect(bytes.equals(expected)).toBe(true);
    expect((await replica.readLayer('x', 0, size)).equals(expected)).toBe(true);
    await replica.close();
    const again = await Replica.open(dir);
    expect((await again.read(0, size)).equals(expected)).toBe(true);
    await again.close();
  });

  it('flushes large imports early: commit, abort and close wait for the flushes in flight', async () => {
    const size = 80 * MiB;
    const piece = (i: number) => fill(2 * MiB, (i % 250) + 1);
    const writeAll = async (r: Replica, name: string) => {
      let next = 0;
      const worker = async () => {
        while (next < size / (2 * MiB)) {
          const i = next++;
          await r.writeLayer(name, i * 2 * MiB, piece(i));
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
    };

    const { dir, replica } = await fresh(size);
    // Aborted right after the last write, while early flushes may still run.
    await replica.importLayer({ name: 'gone', parent: null });
    await writeAll(replica, 'gone');
    await replica.abortImport();
    expect(fs.readdirSync(dir).some((f) => f.includes('gone'))).toBe(false);

    await replica.importLayer({ name: 'base', parent: null });
    await writeAll(replica, 'base');
    await replica.finishImport();
    await replica.revert('base');
    for (let i = 0; i < size / (2 * MiB); i += 7) {
      expect((await replica.read(i * 2 * MiB, 2 * MiB)).equals(piece(i))).toBe(true);
    }
    // Closed with an import (and maybe its flushes) still open: the import is dropped.
    await replica.importLayer({ name: 'left', parent: 'base' });
    await writeAll(replica, 'left');
    await replica.close();
    const again = await Replica.open(dir);
    expect(again.chain().map((l) => l.name)).toEqual(['base', again.info().headName]);
    expect(fs.readdirSync(dir).some((f) => f.includes('left'))).toBe(false);
    expect((await again.read(14 * 2 * MiB, 2 * MiB)).equals(piece(14))).toBe(true);
    await again.close();
  });

  it('rolls an interrupted import forward at open', async () => {
    const { dir, replica } = await fresh(MiB);
    await replica.importLayer({ name: 'x', parent: null });
    await replica.writeLayer('x', 0, fill(4096, 4));
    // Die after the intent is durable but before the rename: forge that state by hand.
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'volume.meta'), 'utf8'));
    const layer = {
      name: 'x',
      parent: null,
      removed: false,
      userCreated: false,
      created: new Date().toISOString(),
    };
    meta.pending = { op: 'import', layers: [{ ...layer, labels: {}, size: MiB }] };
    fs.writeFileSync(path.join(dir, 'volume.meta'), JSON.stringify(meta));
    const { dir: copy, cleanup } = await tempDir('replica-import');
    cleanups.push(cleanup);
    fs.cpSync(dir, copy, { recursive: true });
    await replica.abortImport();
    await replica.close();
    const r = await Replica.open(copy);
    expect(r.chain().map((l) => l.name)).toContain('x');
    expect((await r.readLayer('x', 0, 4096)).equals(fill(4096, 4))).toBe(true);
    await r.close();
  });
});
