import { afterEach, describe, expect, it } from 'vitest';
import { Engine, type GenerationRecord, type ReplicaEndpoint } from '../../src/engine/engine.js';
import type { Rebuilder } from '../../src/sync/rebuild.js';
import { waitFor } from '../wait-for.js';
import { MemoryBackend } from './memory-backend.js';

// The engine's safety rules for acknowledged data (issue 7): each test failed before its fix.

const SIZE = 1 << 20;
let engines: Engine[] = [];

afterEach(async () => {
  await Promise.all(engines.map((e) => e.close()));
  engines = [];
});

function endpoints(backends: MemoryBackend[], names = ['a', 'b', 'c', 'd']): ReplicaEndpoint[] {
  return backends.map((backend, i) => ({ id: names[i]!, address: `mem:${i}`, backend }));
}

async function start(
  backends: MemoryBackend[],
  opts: { timeoutMs?: number; record?: GenerationRecord; names?: string[]; salvage?: boolean } = {},
): Promise<Engine> {
  const e = await Engine.start(
    {
      volume: 'v',
      timeoutMs: opts.timeoutMs ?? 8000,
      generationRecord: opts.record,
      salvage: opts.salvage ?? false,
    },
    endpoints(backends, opts.names),
  );
  engines.push(e);
  return e;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A rebuilder whose copy waits until released, so the test acts while a replica is WO. */
function heldRebuilder(): Rebuilder & { release: () => void } {
  const gate = deferred();
  return {
    release: gate.resolve,
    async prepare() {},
    async copy(_source, target, _snapshot, progress) {
      progress({ bytesDone: 0, bytesTotal: SIZE });
      await gate.promise;
      // The copy installs the source's data below the target's head; here the memory backend
      // just has the bytes the join snapshot held, so write them under anything newer.
      progress({ bytesDone: SIZE, bytesTotal: SIZE });
      void target;
    },
  };
}

/** Lets every promise callback and I/O callback already queued run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

const pattern = (n: number, seed: number) => Buffer.alloc(n, seed);

describe('acknowledgements after an ejection', () => {
  it('wait until the bumped generation is on every remaining replica, for every write', async () => {
    const bs = [new MemoryBackend(SIZE), new MemoryBackend(SIZE), new MemoryBackend(SIZE)];
    const e = await start(bs);
    const g0 = e.currentGeneration();
    const held = deferred();
    bs[0]!.before.set('setGeneration', () => held.promise);
    bs[1]!.failWith = new Error('disk gone');
    const first = e.write(0, pattern(4096, 1), false);
    await waitFor('replica b to be ejected', () => e.status()[1]!.mode === 'ERR');
    // A write dispatched after the ejection, to replicas that all answer.
    let acked = false;
    const second = e.write(8192, pattern(4096, 2), false).then(() => {
      acked = true;
    });
    await settle();
    expect(bs[2]!.data[8192]).toBe(2); // it reached the replicas...
    expect(acked).toBe(false); // ...but is not acknowledged before the bump is everywhere
    held.resolve();
    await Promise.all([first, second]);
    expect(acked).toBe(true);
    expect(bs[0]!.generation).toBe(g0 + 2);
    expect(bs[2]!.generation).toBe(g0 + 2);
    expect(bs[1]!.generation).toBe(g0);
  });

  it('are refused when the generation cannot be recorded', async () => {
    const bs = [new MemoryBackend(SIZE), new MemoryBackend(SIZE)];
    let failSave = false;
    const e = await Engine.start(
      {
        volume: 'v',
        saveGeneration: async () => {
          if (failSave) throw new Error('state file: disk full');
        },
      },
      endpoints(bs),
    );
    engines.push(e);
    failSave = true;
    bs[1]!.failWith = new Error('disk gone');
    await expect(e.write(0, pattern(4096, 1), false)).rejects.toThrow(/cannot record generation.*disk full/);
  });
});

describe('a replica being rebuilt (WO)', () => {
  it('never carries the current generation: an ejection and a clean stop leave it stale', async () => {
    const bs = [new MemoryBackend(SIZE), new MemoryBackend(SIZE)];
    const saved: GenerationRecord[] = [];
    const e = await Engine.start(
      { volume: 'v', saveGeneration: async (r) => void saved.push(r) },
      endpoints(bs),
    );
    engines.push(e);
    await e.write(0, pattern(4096, 7), false);
    const fresh = new MemoryBackend(SIZE);
    const rebuilder = heldRebuilder();
    const adding = e.addReplica({ id: 'n', address: 'mem:n', backend: fresh }, rebuilder);
    adding.catch(() => {});
    await waitFor('n to join WO', () => e.status().find((s) => s.id === 'n')?.mode === 'WO');
    // An ejection while n is WO bumps the generation on the RW replica only.
    bs[1]!.failWith = new Error('disk gone');
    await e.write(4096, pattern(4096, 8), false);
    expect(e.status().map((s) => s.mode)).toEqual(['RW', 'ERR', 'WO']);
    expect(bs[0]!.generation).toBe(e.currentGeneration());
    expect(fresh.generation).toBe(0);
    // A clean stop in the middle of the rebuild: the rebuild fails, n stays behind.
    await e.close();
    await expect(adding).rejects.toThrow();
    expect(bs[0]!.generation % 2).toBe(0);
    expect(fresh.generation).toBe(0);
    const record = saved.at(-1)!;
    expect(record.committed).toBe(bs[0]!.generation);

    // Next start with the current replica unreachable: refused, not served from n.
    bs[0]!.closed = false;
    bs[0]!.failWith = new Error('node down');
    fresh.closed = false;
    await expect(start([bs[0]!, fresh], { record, names: ['a', 'n'] })).rejects.toThrow(
      /cannot start: .*behind the committed.*\(a\) are unreachable/,
    );
    // Without a record too: n cannot be proven current.
    fresh.closed = false;
    await expect(start([bs[0]!, fresh], { names: ['a', 'n'] })).rejects.toThrow(/did not answer/);

    // With a reachable: a serves, n is stale.
    bs[0]!.failWith = null;
    bs[0]!.closed = false;
    fresh.closed = false;
    const again = await start([bs[0]!, fresh], { record, names: ['a', 'n'] });
    expect(again.status().map((s) => [s.id, s.mode])).toEqual([
      ['a', 'RW'],
      ['n', 'ERR'],
    ]);
    expect(again.status()[1]!.error).toMatch(/stale/);
    expect((await again.read(0, 4096)).equals(pattern(4096, 7))).toBe(true);
  });

  it('turns RW with the current generation once its rebuild is done', async () => {
    const bs = [new MemoryBackend(SIZE), new MemoryBackend(SIZE)];
    const e = await start(bs);
    const fresh = new MemoryBackend(SIZE);
    const rebuilder = heldRebuilder();
    const adding = e.addReplica({ id: 'n', address: 'mem:n', backend: fresh }, rebuilder);
    await waitFor('n to join WO', () => e.status().find((s) => s.id === 'n')?.mode === 'WO');
    expect(fresh.generation).toBe(0);
    rebuilder.release();
    await adding;
    expect(e.status().map((s) => s.mode)).toEqual(['RW', 'RW', 'RW']);
    expect(new Set(bs.concat(fresh).map((b) => b.generation))).toEqual(new Set([e.currentGeneration()]));
  });

  it('gets real zeros, not its own write-zeroes, and trims are skipped', async () => {
    const bs = [new MemoryBackend(SIZE), new MemoryBackend(SIZE)];
    const e = await start(bs);
    const fresh = new MemoryBackend(SIZE);
    const rebuilder = heldRebuilder();
    const adding = e.addReplica({ id: 'n', address: 'mem:n', backend: fresh }, rebuilder);
    await waitFor('n to join WO', () => e.status().find((s) => s.id === 'n')?.mode === 'WO');
    for (const b of [...bs, fresh]) b.data.fill(9);
    fresh.calls.length = 0;
    fresh.writes.length = 0;
    await e.writeZeroes(8192, 3 * 4096, false); // aligned
    await e.writeZeroes(40_100, 10_000, false); // unaligned: edges completed from an RW replica
    await e.trim(0, SIZE, false);
    expect(fresh.calls).not.toContain('writeZeroes');
    expect(fresh.calls).not.toContain('unmap');
    expect(bs[0]!.calls).not.toContain('unmap');
    // Only whole blocks, the edges completed with the volume's bytes.
    expect(fresh.writes.every((w) => w.offset % 4096 === 0 && w.length % 4096 === 0)).toBe(true);
    expect(fresh.data.subarray(40_100, 50_100).every((b) => b === 0)).toBe(true);
    expect(fresh.data.subarray(8192, 8192 + 3 * 4096).every((b) => b === 0)).toBe(true);
    expect([fresh.data[8191], fresh.data[20_480], fresh.data[40_099], fresh.data[50_100]]).toEqual([
      9, 9, 9, 9,
    ]);
    rebuilder.release();
    await adding;
  });

  it('never sends a widening read or write larger than the replica protocol carries', async () => {
    const big = 256 * (1 << 20);
    const bs = [new MemoryBackend(big), new MemoryBackend(big)];
    const e = await start(bs);
    const fresh = new MemoryBackend(big);
    const rebuilder = heldRebuilder();
    const adding = e.addReplica({ id: 'n', address: 'mem:n', backend: fresh }, rebuilder);
    await waitFor('n to join WO', () => e.status().find((s) => s.id === 'n')?.mode === 'WO');
    const reads: number[] = [];
    const read = bs[0]!.read.bind(bs[0]);
    bs[0]!.read = (o, l) => {
      reads.push(l);
      return read(o, l);
    };
    fresh.writes.length = 0;
    for (const b of [...bs, fresh]) b.data.fill(9);
    await e.writeZeroes(1000, 100 * (1 << 20), false);
    expect(Math.max(...reads)).toBeLessThanOrEqual(4096);
    expect(Math.max(...fresh.writes.map((w) => w.length))).toBeLessThanOrEqual(64 * (1 << 20));
    expect(e.status().map((s) => s.mode)).toEqual(['RW', 'RW', 'WO']);
    const zeroed = fresh.data.subarray(1000, 1000 + 100 * (1 << 20));
    expect(zeroed.every((b) => b === 0)).toBe(true);
    expect(fresh.data[999]).toBe(9);
    expect(fresh.data[1000 + 100 * (1 << 20)]).toBe(9);
    rebuilder.release();
    await adding;
  });
});

describe('a clean stop', () => {
  it('ejects a hung replica by its timeout instead of hanging', async () => {
    const bs = [new MemoryBackend(SIZE), new MemoryBackend(SIZE)];
    const e = await start(bs, { timeoutMs: 200 });
    await e.write(0, pattern(4096, 3), false);
    bs[1]!.hang = true;
    const closed = e.close().then(() => 'closed');
    const outcome = await Promise.race([
      closed,
      new Promise((r) => setTimeout(() => r('still hanging'), 5000).unref()),
    ]);
    expect(outcome).toBe('closed');
    expect(bs[0]!.generation % 2).toBe(0);
    expect(bs[1]!.generation % 2).toBe(1);
  });

  it('refuses I/O that arrives after it', async () => {
    const bs = [new MemoryBackend(SIZE)];
    const e = await start(bs);
    await e.close();
    await expect(e.write(0, pattern(512, 1), false)).rejects.toMatchObject({ code: 'ESHUTDOWN' });
  });
});

describe('start-up', () => {
  it('does not promote a stale replica when the current ones are unreachable', async () => {
    const bs = [new MemoryBackend(SIZE), new MemoryBackend(SIZE), new MemoryBackend(SIZE)];
    let record: GenerationRecord | undefined;
    const e = await Engine.start(
      {
        volume: 'v',
        saveGeneration: async (r) => {
          record = r;
        },
      },
      endpoints(bs),
    );
    bs[2]!.failWith = new Error('disk gone');
    await e.write(0, pattern(4096, 5), false); // c ejected, misses this write
    await e.close();
    for (const b of bs) b.closed = false;
    bs[2]!.failWith = null;
    bs[0]!.failWith = new Error('node down');
    bs[1]!.failWith = new Error('node down');
    await expect(start(bs, { record })).rejects.toThrow(/behind the committed/);
    expect(bs[2]!.generation).toBeLessThan(record!.committed); // not stamped current
    // Salvage is explicit, and serves what c has.
    bs[2]!.closed = false;
    const salvaged = await start(bs, { record, salvage: true });
    expect(salvaged.status().map((s) => s.mode)).toEqual(['ERR', 'ERR', 'RW']);
    expect(salvaged.currentGeneration()).toBeGreaterThan(record!.issued);
  });
});

describe('large and concurrent zeroing and writes', () => {
  /** Records ranges without storing bytes, for a volume larger than memory allows. */
  class RangeRecorder extends MemoryBackend {
    ranges: [string, number, number][] = [];
    constructor(private readonly logical: number) {
      super(4096);
    }
    override async info() {
      return {
        size: this.logical,
        sectorSize: 512,
        headName: 'head',
        generation: this.generation,
        dirty: false,
      };
    }
    override async writeZeroes(offset: number, length: number): Promise<void> {
      this.ranges.push(['zero', offset, length]);
    }
    override async unmap(offset: number, length: number): Promise<void> {
      this.ranges.push(['trim', offset, length]);
    }
  }

  it('splits zeroing and trims over 1 GiB into pieces the wire carries', async () => {
    const GiB = 1024 * 1024 * 1024;
    const bs = [new RangeRecorder(3 * GiB), new RangeRecorder(3 * GiB)];
    const e = await start(bs);
    await e.writeZeroes(4096, 2.5 * GiB, false);
    await e.trim(0, 3 * GiB, false);
    for (const b of bs) {
      expect(b.ranges).toEqual([
        ['zero', 4096, GiB],
        ['zero', 4096 + GiB, GiB],
        ['zero', 4096 + 2 * GiB, 0.5 * GiB],
        ['trim', 0, GiB],
        ['trim', GiB, GiB],
        ['trim', 2 * GiB, GiB],
      ]);
    }
  });

  it('serialises widened writes to one block, so neither is lost on the WO replica', async () => {
    const bs = [new MemoryBackend(SIZE)];
    const e = await start(bs);
    const fresh = new MemoryBackend(SIZE);
    const rebuilder = heldRebuilder();
    const adding = e.addReplica({ id: 'n', address: 'mem:n', backend: fresh }, rebuilder);
    await waitFor('n to join WO', () => e.status().find((s) => s.id === 'n')?.mode === 'WO');
    // Slow reads from the RW replica: without the range lock both writes would read the block
    // before either wrote it, and the second write would put back the first one's old bytes.
    const rw = bs[0]!;
    rw.read = async (offset, length) => {
      const bytes = Buffer.from(rw.data.subarray(offset, offset + length));
      await new Promise((r) => setTimeout(r, 20));
      return bytes;
    };
    await Promise.all([
      e.write(100, Buffer.alloc(100, 1), false),
      e.write(1000, Buffer.alloc(100, 2), false),
    ]);
    expect(fresh.data.subarray(100, 200).every((b) => b === 1)).toBe(true);
    expect(fresh.data.subarray(1000, 1100).every((b) => b === 2)).toBe(true);
    expect(fresh.data.subarray(0, 4096).equals(bs[0]!.data.subarray(0, 4096))).toBe(true);
    rebuilder.release();
    await adding;
  });
});

describe('losing every replica at once', () => {
  it('keeps the committed generation at what the last replicas hold, so the next start needs no salvage', async () => {
    const bs = [new MemoryBackend(SIZE), new MemoryBackend(SIZE)];
    let record: GenerationRecord | undefined;
    const e = await Engine.start(
      {
        volume: 'v',
        saveGeneration: async (r) => {
          record = r;
        },
      },
      endpoints(bs),
    );
    engines.push(e);
    await e.write(0, pattern(4096, 4), false);
    const held = bs[0]!.generation;
    // Every replica server stops while the engine still runs (a whole-node or cluster stop).
    for (const b of bs) b.failWith = new Error('connection reset');
    await expect(e.write(4096, pattern(4096, 5), false)).rejects.toThrow(/every replica failed|no RW/);
    await e.close();
    expect(record!.committed).toBe(held);
    expect(record!.issued).toBeGreaterThan(held);
    for (const b of bs) {
      b.failWith = null;
      b.closed = false;
    }
    const again = await start(bs, { record });
    expect(again.status().map((s) => s.mode)).toEqual(['RW', 'RW']);
    expect(again.currentGeneration()).toBeGreaterThan(record!.issued);
    expect((await again.read(0, 4096)).equals(pattern(4096, 4))).toBe(true);
  });
});

describe('the data-key rotation record on the replicas', () => {
  const R1 = '{"watermark":1}';
  const R2 = '{"watermark":2}';

  it('is kept on every replica that takes writes, and a later start reads it from those it starts RW', async () => {
    const bs = [new MemoryBackend(SIZE), new MemoryBackend(SIZE)];
    const e = await start(bs);
    expect(e.keyRotationsAtStart()).toEqual([]);
    await e.saveKeyRotation(R1);
    expect(bs.map((b) => b.keyRotation)).toEqual([R1, R1]);
    await e.close();
    for (const b of bs) b.closed = false;
    const again = await start(bs);
    expect(again.keyRotationsAtStart()).toEqual([
      { replica: 'a', record: R1 },
      { replica: 'b', record: R1 },
    ]);
  });

  it('is given to a replica joining for a rebuild before it takes any write, and then every new one', async () => {
    const bs = [new MemoryBackend(SIZE), new MemoryBackend(SIZE)];
    const e = await start(bs);
    await e.saveKeyRotation(R1);
    const fresh = new MemoryBackend(SIZE);
    fresh.keyRotation = '{"watermark":0}'; // what it kept from long ago
    const rebuilder = heldRebuilder();
    const adding = e.addReplica({ id: 'n', address: 'mem:n', backend: fresh }, rebuilder);
    await waitFor('n to join WO', () => e.status().find((s) => s.id === 'n')?.mode === 'WO');
    expect(fresh.keyRotation).toBe(R1);
    await e.saveKeyRotation(R2);
    expect(fresh.keyRotation).toBe(R2);
    rebuilder.release();
    await adding;
    expect(e.status().map((s) => s.mode)).toEqual(['RW', 'RW', 'RW']);
  });

  it('ejects a replica that cannot take it, so it reads as stale (its older record is never chosen)', async () => {
    const bs = [new MemoryBackend(SIZE), new MemoryBackend(SIZE)];
    const e = await start(bs);
    await e.saveKeyRotation(R1);
    bs[1]!.before.set('setKeyRotation', () => Promise.reject(new Error('disk full')));
    await e.saveKeyRotation(R2);
    expect(e.status().map((s) => [s.id, s.mode])).toEqual([
      ['a', 'RW'],
      ['b', 'ERR'],
    ]);
    expect(bs.map((b) => b.keyRotation)).toEqual([R2, R1]);
    await e.close();
    bs[1]!.before.delete('setKeyRotation');
    for (const b of bs) b.closed = false;
    const again = await start(bs);
    expect(again.status()[1]!.error).toMatch(/stale/);
    expect(again.keyRotationsAtStart()).toEqual([{ replica: 'a', record: R2 }]);
  });

  it('fails the save when no replica could take it', async () => {
    const bs = [new MemoryBackend(SIZE)];
    const e = await start(bs);
    bs[0]!.before.set('setKeyRotation', () => Promise.reject(new Error('disk full')));
    await expect(e.saveKeyRotation(R1)).rejects.toThrow('volume v: every replica failed');
  });
});
