import { afterEach, describe, expect, it } from 'vitest';
import { Engine, type ReplicaEndpoint } from '../../src/engine/engine.js';
import type { Rebuilder } from '../../src/sync/rebuild.js';
import { MemoryBackend } from './memory-backend.js';

const SIZE = 1 << 20;
let engines: Engine[] = [];

afterEach(async () => {
  await Promise.all(engines.map((e) => e.close()));
  engines = [];
});

function endpoints(backends: MemoryBackend[]): ReplicaEndpoint[] {
  return backends.map((backend, i) => ({ id: `r${i}`, address: `mem:${i}`, backend }));
}

async function start(backends: MemoryBackend[], timeoutMs = 8000): Promise<Engine> {
  const e = await Engine.start({ volume: 'v', timeoutMs }, endpoints(backends));
  engines.push(e);
  return e;
}

function pattern(length: number, seed: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

describe('engine fan-out and reads', () => {
  it('writes to every replica and reads back the bytes', async () => {
    const bs = [new MemoryBackend(SIZE), new MemoryBackend(SIZE), new MemoryBackend(SIZE)];
    const e = await start(bs);
    const data = pattern(10_000, 7);
    await e.write(12_345, data, false);
    for (const b of bs) expect(b.data.subarray(12_345, 22_345).equals(data)).toBe(true);
    expect((await e.read(12_345, 10_000)).equals(data)).toBe(true);
    expect(e.status().map((s) => s.mode)).toEqual(['RW', 'RW', 'RW']);
  });

  it('spreads reads round-robin over RW replicas', async () => {
    const bs = [new MemoryBackend(SIZE), new MemoryBackend(SIZE)];
    const e = await start(bs);
    for (let i = 0; i < 4; i++) await e.read(0, 512);
    expect(bs.map((b) => b.calls.filter((c) => c === 'read').length)).toEqual([2, 2]);
  });

  it('rejects ranges past the end and bad offsets with EINVAL, touching no replica', async () => {
    const bs = [new MemoryBackend(SIZE)];
    const e = await start(bs);
    const before = bs[0]!.calls.length;
    await expect(e.read(SIZE - 10, 20)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(e.write(-1, Buffer.alloc(1), false)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(e.write(1.5, Buffer.alloc(1), false)).rejects.toMatchObject({ code: 'EINVAL' });
    expect(bs[0]!.calls.length).toBe(before);
  });
});

describe('engine failures', () => {
  it('ejects a failing replica, keeps serving, and bumps the generation on the others first', async () => {
    const bs = [new MemoryBackend(SIZE, 4), new MemoryBackend(SIZE, 4), new MemoryBackend(SIZE, 4)];
    const e = await start(bs);
    const genAtStart = e.currentGeneration();
    expect(genAtStart % 2).toBe(1);
    bs[1]!.failWith = new Error('disk gone');
    await e.write(0, pattern(4096, 1), false);
    expect(e.status().map((s) => s.mode)).toEqual(['RW', 'ERR', 'RW']);
    expect(e.status()[1]!.error).toContain('disk gone');
    expect(bs[0]!.generation).toBeGreaterThan(genAtStart);
    expect(bs[2]!.generation).toBe(bs[0]!.generation);
    expect(bs[1]!.generation).toBe(genAtStart);
    expect(e.robustness()).toBe('degraded');
  });

  it('does not eject replicas that all refuse a bad request; ejects one that diverges', async () => {
    const bs = [new MemoryBackend(SIZE), new MemoryBackend(SIZE), new MemoryBackend(SIZE)];
    const e = await start(bs);
    const notFound = () =>
      Object.assign(new Error('SNAPSHOT_NOT_FOUND: no snapshot x'), { code: 'SNAPSHOT_NOT_FOUND' });
    for (const b of bs) b.failWith = notFound();
    await expect(e.deleteSnapshot('x')).rejects.toThrow(/SNAPSHOT_NOT_FOUND/);
    expect(e.status().map((s) => s.mode)).toEqual(['RW', 'RW', 'RW']);
    bs[0]!.failWith = null;
    bs[1]!.failWith = null;
    await e.deleteSnapshot('x');
    expect(e.status().map((s) => s.mode)).toEqual(['RW', 'RW', 'ERR']);
    expect(e.status()[2]!.error).toMatch(/diverged/);
  });

  it('fails I/O with EIO once every replica failed', async () => {
    const bs = [new MemoryBackend(SIZE), new MemoryBackend(SIZE)];
    const e = await start(bs);
    for (const b of bs) b.failWith = new Error('boom');
    await expect(e.write(0, Buffer.alloc(512), false)).rejects.toMatchObject({ code: 'EIO' });
    expect(e.robustness()).toBe('faulted');
  });

  it('retries a failed read on another replica', async () => {
    const bs = [new MemoryBackend(SIZE), new MemoryBackend(SIZE)];
    const e = await start(bs);
    await e.write(0, pattern(512, 3), false);
    bs[0]!.failWith = new Error('read error');
    expect((await e.read(0, 512)).equals(pattern(512, 3))).toBe(true);
    expect((await e.read(0, 512)).equals(pattern(512, 3))).toBe(true);
    expect(e.status()[0]!.mode).toBe('ERR');
  });

  it('times out a hanging replica only while another answered (shared timeouts)', async () => {
    const bs = [new MemoryBackend(SIZE), new MemoryBackend(SIZE)];
    const e = await start(bs, 200);
    bs[1]!.hang = true;
    const t0 = performance.now();
    await e.write(0, Buffer.alloc(512, 1), false);
    const took = performance.now() - t0;
    // Ejected, not before its timeout, while the replica that answered stays RW (a wall-clock
    // upper bound would only measure the machine's load).
    expect(e.status().map((s) => s.mode)).toEqual(['RW', 'ERR']);
    expect(e.status()[1]!.error).toMatch(/timed out after \d+ ms/);
    expect(took).toBeGreaterThanOrEqual(190);
  });

  it('gives every replica twice the timeout when none answered, then fails', async () => {
    const bs = [new MemoryBackend(SIZE), new MemoryBackend(SIZE)];
    const e = await start(bs, 200);
    for (const b of bs) b.hang = true;
    const t0 = performance.now();
    await expect(e.write(0, Buffer.alloc(512), false)).rejects.toMatchObject({ code: 'EIO' });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(390);
  });
});

describe('engine start-up from generation marks', () => {
  it('marks replicas behind the newest generation stale and never reads them', async () => {
    const bs = [new MemoryBackend(SIZE, 6), new MemoryBackend(SIZE, 4), new MemoryBackend(SIZE, 6)];
    bs[1]!.data.fill(0xee);
    const e = await start(bs);
    expect(e.status().map((s) => s.mode)).toEqual(['RW', 'ERR', 'RW']);
    expect(e.status()[1]!.error).toMatch(/stale/);
    for (let i = 0; i < 4; i++) expect((await e.read(0, 16)).equals(Buffer.alloc(16))).toBe(true);
    expect(bs[1]!.calls).not.toContain('read');
  });

  it('after an unclean stop (odd generation) copies the dirty ranges from one replica to the others', async () => {
    const bs = [new MemoryBackend(SIZE, 7), new MemoryBackend(SIZE, 7), new MemoryBackend(SIZE, 7)];
    // A write was in flight at the crash: it reached replica 0 and 2 but not 1.
    bs[0]!.data.fill(0xab, 8192, 12_288);
    bs[2]!.data.fill(0xab, 8192, 12_288);
    bs[0]!.dirty = [{ offset: 8192, length: 4096 }];
    bs[1]!.dirty = [{ offset: 0, length: 4096 }];
    const e = await start(bs);
    expect(e.status().map((s) => s.mode)).toEqual(['RW', 'RW', 'RW']);
    for (const b of bs) expect(b.data.equals(bs[0]!.data)).toBe(true);
    expect(bs[1]!.writes).toEqual([
      { offset: 0, length: 4096 },
      { offset: 8192, length: 4096 },
    ]);
    for (const b of bs) expect(b.dirty).toEqual([]);
  });

  it('after an unclean stop leaves a replica whose snapshot chain differs for a rebuild', async () => {
    const bs = [new MemoryBackend(SIZE, 7), new MemoryBackend(SIZE, 7)];
    bs[0]!.snapshots = ['s1'];
    const e = await start(bs);
    expect(e.status().map((s) => s.mode)).toEqual(['RW', 'ERR']);
    expect(e.status()[1]!.error).toMatch(/unclean stop: snapshot chain differs/);
  });

  it('a clean close leaves an even generation that the next start accepts on every replica', async () => {
    const bs = [new MemoryBackend(SIZE, 0), new MemoryBackend(SIZE, 0)];
    const e = await start(bs);
    await e.close();
    expect(bs[0]!.generation % 2).toBe(0);
    expect(bs[0]!.generation).toBe(bs[1]!.generation);
    const again = [new MemoryBackend(SIZE, bs[0]!.generation), new MemoryBackend(SIZE, bs[1]!.generation)];
    const e2 = await start(again);
    expect(e2.status().map((s) => s.mode)).toEqual(['RW', 'RW']);
  });
});

describe('engine snapshots and rebuild', () => {
  it('snapshots every replica with one name and waits for writes in flight', async () => {
    const bs = [new MemoryBackend(SIZE), new MemoryBackend(SIZE)];
    const e = await start(bs);
    bs[0]!.hang = true;
    const w = e.write(0, Buffer.alloc(512, 9), false);
    const s = e.snapshot('s1');
    // Not a timed wait: once a macrotask ran, everything the snapshot call could do without
    // the write finishing (the backends answer in microtasks) has been done.
    await new Promise((r) => setImmediate(r));
    expect(bs[1]!.calls).not.toContain('snapshot');
    expect(bs[1]!.snapshots).toEqual([]);
    bs[0]!.hang = false;
    await bs[0]!.close(); // the hanging write fails; replica 0 is ejected
    await w;
    await s;
    expect(bs[1]!.snapshots).toEqual(['s1']);
    await expect(e.snapshot('../x')).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('widens unaligned writes to whole blocks for a write-only replica (Longhorn #4354)', async () => {
    const rw = new MemoryBackend(SIZE);
    const e = await start([rw]);
    await e.write(0, pattern(8192, 5), false);
    const target = new MemoryBackend(SIZE);
    let release!: () => void;
    const copying = new Promise<void>((r) => {
      release = r;
    });
    let started!: () => void;
    const inCopy = new Promise<void>((r) => {
      started = r;
    });
    const rebuilder: Rebuilder = {
      prepare: async () => {},
      copy: async (_s, _t, _snap, progress) => {
        progress({ bytesDone: 0, bytesTotal: 100 });
        started();
        await copying;
      },
    };
    const adding = e.addReplica({ id: 'new', address: 'mem:new', backend: target }, rebuilder);
    await inCopy;
    expect(e.status()[1]).toMatchObject({ mode: 'WO', rebuild: { percent: 0 } });
    await e.write(100, Buffer.alloc(10, 0xff), false);
    const wo = target.writes.at(-1)!;
    expect(wo).toEqual({ offset: 0, length: 4096 });
    const expected = pattern(4096, 5);
    expected.fill(0xff, 100, 110);
    expect(target.data.subarray(0, 4096).equals(expected)).toBe(true);
    expect(rw.writes.at(-1)).toEqual({ offset: 100, length: 10 });
    release();
    await adding;
    expect(e.status().map((s) => s.mode)).toEqual(['RW', 'RW']);
    expect(target.generation).toBe(rw.generation);
  });
});
