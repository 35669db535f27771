import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CloneJob } from '../../src/engine/clone-job.js';
import { Engine } from '../../src/engine/engine.js';
import { EngineClient } from '../../src/engine/engine-client.js';
import { serveEngine } from '../../src/engine/engine-service.js';
import { parseReplicaAddress } from '../../src/net/replica-address.js';
import { ReplicaClient } from '../../src/protocol/client.js';
import { waitFor } from '../wait-for.js';
import { bytes, Cluster, listing, MiB, type Node, snapshotAll, volumePrint, writeAll } from './helpers.js';

/**
 * Snapshot clone against real replica servers and a real engine: a new volume's replicas are
 * filled from one snapshot of another volume; their bytes must equal the snapshot's exactly
 * (data written to the source after the snapshot absent, holes read as zeros).
 */

const SIZE = 64 * MiB;
let cluster: Cluster;
let a: Node;
let b: Node;
let c: Node;

beforeEach(async () => {
  cluster = await Cluster.create();
  a = await cluster.node();
  b = await cluster.node();
  c = await cluster.node();
});

afterEach(async () => {
  await cluster.close();
});

const sha = (buf: Buffer) => createHash('sha256').update(buf).digest('hex');

/**
 * The source: s1 <- s2 with data, overwrites, an unmapped range and holes; the volume's bytes
 * at s2 are returned (hashed per 8 MiB); then later writes overwrite s2's data and extend it.
 */
async function sourceVolume(): Promise<{ src: ReplicaClient; atS2: string[] }> {
  const src = await cluster.replica(a, 'src', SIZE);
  await writeAll([src], 0, bytes(6 * MiB, 1));
  await writeAll([src], 20 * MiB + 4096, bytes(3 * MiB, 2));
  await snapshotAll([src], 's1');
  await writeAll([src], 2 * MiB, bytes(1 * MiB, 3)); // overwrites part of s1
  await writeAll([src], 63 * MiB, bytes(1 * MiB, 4)); // the last MiB
  await src.unmap(21 * MiB, 1 * MiB); // a hole in s2's head only: s1's data shows through
  await snapshotAll([src], 's2');
  const atS2 = await volumePrint(src);
  // After the snapshot: overwrite s2's data and fill a hole; none of it may reach the clone.
  await writeAll([src], 0, bytes(4 * MiB, 5));
  await writeAll([src], 40 * MiB, bytes(2 * MiB, 6));
  await snapshotAll([src], 's3');
  await writeAll([src], 62 * MiB, bytes(2 * MiB, 7));
  return { src, atS2 };
}

async function targetEngine(size = SIZE): Promise<{ engine: Engine; replicas: ReplicaClient[] }> {
  const r1 = await cluster.replica(b, 't1', size);
  const r2 = await cluster.replica(c, 't2', size);
  const engine = await Engine.start({ volume: 'clone', timeoutMs: 8000 }, [
    { id: 't1', address: b.address, backend: r1 },
    { id: 't2', address: c.address, backend: r2 },
  ]);
  return { engine, replicas: [r1, r2] };
}

/** The engine's view of the whole volume, hashed per 8 MiB (as volumePrint does a replica's). */
async function enginePrint(engine: Engine, upTo = SIZE): Promise<string[]> {
  const out: string[] = [];
  for (let off = 0; off < upTo; off += 8 * MiB) out.push(sha(await engine.read(off, 8 * MiB)));
  return out;
}

describe('snapshot clone', () => {
  it('fills every replica of a new volume with exactly the snapshot bytes, holes kept', async () => {
    const { src, atS2 } = await sourceVolume();
    const before = await volumePrint(src);
    const { engine, replicas } = await targetEngine();
    try {
      const seen: { bytesDone: number; bytesTotal: number }[] = [];
      await engine.cloneFrom(src, { snapshot: 's2', layer: 'clone-s2' }, {}, (p) => seen.push(p));
      expect(await enginePrint(engine)).toEqual(atS2);
      for (const r of replicas) {
        expect(await volumePrint(r)).toEqual(atS2);
        const info = await r.info();
        const chain = await r.chain();
        expect(chain.map((l) => [l.name, l.parent])).toEqual([
          ['clone-s2', null],
          [info.headName, 'clone-s2'],
        ]);
        // Holes stay holes: the clone holds only the bytes some layer of s2's lineage held.
        // s1: 6 MiB + 3 MiB; s2 adds 1 MiB at 63 MiB (its 2 MiB overwrite lies inside s1's data).
        expect(chain[0]!.allocatedBytes).toBe(10 * MiB);
        expect((await r.read(30 * MiB, 1 * MiB)).equals(Buffer.alloc(1 * MiB))).toBe(true);
      }
      const last = seen[seen.length - 1]!;
      expect(last).toEqual({ bytesDone: 10 * MiB, bytesTotal: 10 * MiB });
      // The source is untouched.
      expect(await volumePrint(src)).toEqual(before);
      expect((await src.chain()).map((l) => l.name).slice(0, 3)).toEqual(['s1', 's2', 's3']);

      // Cloned again (an operator that did not see the first answer): same bytes, same chain.
      await engine.cloneFrom(src, { snapshot: 's2', layer: 'clone-s2' }, {}, () => {});
      expect(await enginePrint(engine)).toEqual(atS2);
      expect((await replicas[0]!.chain()).length).toBe(2);
      // Once used (a write), the volume is no clone target any more, and keeps its data.
      await engine.write(0, bytes(4096, 9), false);
      await expect(
        engine.cloneFrom(src, { snapshot: 's2', layer: 'clone-s2' }, {}, () => {}),
      ).rejects.toThrow(/already holds data written to it/);
      expect((await engine.read(0, 4096)).equals(bytes(4096, 9))).toBe(true);
    } finally {
      await engine.close();
    }
  });

  it('clones into a larger volume: past the snapshot the clone reads zeros', async () => {
    const { src, atS2 } = await sourceVolume();
    const { engine } = await targetEngine(SIZE + 16 * MiB);
    try {
      await engine.cloneFrom(src, { snapshot: 's2', layer: 'c' }, {}, () => {});
      expect(await enginePrint(engine)).toEqual(atS2);
      expect((await engine.read(SIZE, 16 * MiB)).equals(Buffer.alloc(16 * MiB))).toBe(true);
    } finally {
      await engine.close();
    }
  });

  it('a clone cut short leaves no trace and is done again from scratch', async () => {
    const { src, atS2 } = await sourceVolume();
    const { engine, replicas } = await targetEngine();
    try {
      // The source fails after a few pieces (a source replica going away mid-clone).
      let reads = 0;
      const failing = {
        chain: () => src.chain(),
        allocatedRanges: (l?: string) => src.allocatedRanges(l),
        readLayer: async (n: string, off: number, len: number) => {
          if (++reads > 2) throw new Error('source replica went away');
          return src.readLayer(n, off, len);
        },
      };
      await expect(
        engine.cloneFrom(failing, { snapshot: 's2', layer: 'c' }, { workers: 1 }, () => {}),
      ).rejects.toThrow(/source replica went away/);
      for (const [i, r] of replicas.entries()) {
        const info = await r.info();
        expect((await r.chain()).map((l) => l.name)).toEqual([info.headName]);
        expect(await r.allocatedRanges()).toEqual([]);
        expect((await listing(cluster.nodes[i + 1]!.dataDir + (i === 0 ? '/t1' : '/t2'))).join()).not.toMatch(
          /import/,
        );
      }
      await engine.cloneFrom(src, { snapshot: 's2', layer: 'c' }, {}, () => {});
      expect(await enginePrint(engine)).toEqual(atS2);
    } finally {
      await engine.close();
    }
  });

  it('a stage left by an engine that died mid-clone is dropped, never shown, and the clone is done again', async () => {
    const { src, atS2 } = await sourceVolume();
    const { engine, replicas } = await targetEngine();
    try {
      // What a dead engine leaves: the layer staged and partly written, never committed.
      for (const r of replicas) {
        await r.importLayer({ name: 'c', parent: null, size: SIZE });
        await r.writeLayer('c', 0, bytes(1 * MiB, 42));
      }
      expect((await engine.read(0, 1 * MiB)).equals(Buffer.alloc(1 * MiB))).toBe(true);
      for (const r of replicas) expect((await r.chain()).length).toBe(1);
      await engine.cloneFrom(src, { snapshot: 's2', layer: 'c' }, {}, () => {});
      expect(await enginePrint(engine)).toEqual(atS2);
      for (const [i, r] of replicas.entries()) {
        expect(await volumePrint(r)).toEqual(atS2);
        const files = await listing(join(cluster.nodes[i + 1]!.dataDir, i === 0 ? 't1' : 't2'));
        expect(files.join()).not.toMatch(/import/);
      }
    } finally {
      await engine.close();
    }
  });

  it('a target replica lost mid-clone is ejected; the clone completes on the others', async () => {
    const { src, atS2 } = await sourceVolume();
    const { engine, replicas } = await targetEngine();
    try {
      let reads = 0;
      const losing = {
        chain: () => src.chain(),
        allocatedRanges: (l?: string) => src.allocatedRanges(l),
        readLayer: async (n: string, off: number, len: number) => {
          if (++reads === 3) await c.server.close(); // t2's node goes away
          return src.readLayer(n, off, len);
        },
      };
      await engine.cloneFrom(losing, { snapshot: 's2', layer: 'c' }, { workers: 1 }, () => {});
      expect(engine.status().map((r) => [r.id, r.mode])).toEqual([
        ['t1', 'RW'],
        ['t2', 'ERR'],
      ]);
      expect(await enginePrint(engine)).toEqual(atS2);
      expect(await volumePrint(replicas[0]!)).toEqual(atS2);
    } finally {
      await engine.close();
    }
  });

  it('refuses an unknown snapshot and a target too small, changing nothing', async () => {
    const { src } = await sourceVolume();
    const { engine, replicas } = await targetEngine(SIZE - 4 * MiB);
    try {
      await expect(
        engine.cloneFrom(src, { snapshot: 'nope', layer: 'c' }, {}, () => {}),
      ).rejects.toMatchObject({
        code: 'SNAPSHOT_NOT_FOUND',
      });
      await expect(engine.cloneFrom(src, { snapshot: 's2', layer: 'c' }, {}, () => {})).rejects.toMatchObject(
        {
          code: 'OUT_OF_RANGE',
          message: expect.stringMatching(/the snapshot is 67108864 bytes, more than the volume's 62914560/),
        },
      );
      await expect(
        engine.cloneFrom(src, { snapshot: 's2', layer: 'bad/name' }, {}, () => {}),
      ).rejects.toThrow(/name/);
      for (const r of replicas) expect((await r.chain()).length).toBe(1);
    } finally {
      await engine.close();
    }
  });

  it('CloneJob runs in the background, reports progress, and answers a repeated request', async () => {
    const { atS2 } = await sourceVolume();
    const { engine } = await targetEngine();
    const opened: ReplicaClient[] = [];
    const job = new CloneJob(engine, async (args) => {
      const client = await ReplicaClient.connect(parseReplicaAddress(args.fromAddress), args.fromReplicaId, {
        connections: 2,
      });
      opened.push(client);
      return client;
    });
    try {
      const args = {
        fromAddress: a.address,
        fromReplicaId: 'src',
        snapshot: 's2',
        layer: 'c',
        bandwidthLimit: 0,
      };
      expect(job.current().state).toBe('idle');
      expect(() => job.start({ ...args, snapshot: '' })).toThrow(/snapshot is required/);
      expect(job.start(args).state).toBe('running');
      expect(job.start(args).state).toMatch(/running|done/);
      expect(() => job.start({ ...args, snapshot: 's1' })).toThrow(/a clone of s2 .* is running/);
      await waitFor('clone done', () => job.current().state === 'done', { timeoutMs: 30_000 });
      expect(job.current()).toMatchObject({ bytesDone: 10 * MiB, bytesTotal: 10 * MiB, error: '' });
      expect(job.start(args).state).toBe('done');
      expect(await enginePrint(engine)).toEqual(atS2);

      // A clone from a source that has no such replica fails with the reason.
      const bad = { ...args, fromReplicaId: 'nobody', layer: 'c2' };
      job.start(bad);
      await waitFor('clone failed', () => job.current().state === 'failed', { timeoutMs: 30_000 });
      expect(job.current().error).toMatch(/nobody/);
    } finally {
      await engine.close();
      for (const c of opened) await c.close().catch(() => {});
    }
  });

  it('through the engine service: SnapshotClone starts the copy, SnapshotCloneStatus reports it', async () => {
    const { atS2 } = await sourceVolume();
    const { engine } = await targetEngine();
    const frontend = { uri: () => '', start: async () => {}, stop: async () => {}, server: () => null };
    const { server, port } = await serveEngine(engine, frontend, '127.0.0.1', 0);
    const client = new EngineClient(`127.0.0.1:${port}`);
    try {
      expect((await client.snapshotCloneStatus()).state).toBe('idle');
      const args = {
        fromAddress: a.address,
        fromReplicaId: 'src',
        snapshot: 's2',
        layer: 'c',
        bandwidthLimit: 0,
      };
      await expect(client.snapshotClone({ ...args, layer: '' })).rejects.toThrow(
        /the name of the cloned layer is required/,
      );
      expect((await client.snapshotClone(args)).state).toMatch(/running|done/);
      await waitFor('clone done', async () => (await client.snapshotCloneStatus()).state === 'done', {
        timeoutMs: 30_000,
      });
      expect(await client.snapshotCloneStatus()).toMatchObject({
        state: 'done',
        fromAddress: a.address,
        fromReplicaId: 'src',
        snapshot: 's2',
        layer: 'c',
        bytesDone: 10 * MiB,
        bytesTotal: 10 * MiB,
        error: '',
      });
      // The volume view carries the job too (the operator's Engine status.cloneStatus).
      expect((await client.volume()).clone).toMatchObject({
        state: 'done',
        snapshot: 's2',
        bytesDone: 10 * MiB,
      });
      expect(await enginePrint(engine)).toEqual(atS2);
    } finally {
      client.close();
      server.forceShutdown();
      await engine.close();
    }
  });
});
