import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { TokenBucket } from '../../src/net/token-bucket.js';
import type { ReplicaClient } from '../../src/protocol/client.js';
import { type DirectRebuildProgress, directRebuilder } from '../../src/sync/direct-rebuild.js';
import { waitFor } from '../wait-for.js';
import {
  bytes,
  Cluster,
  expectSameLayers,
  layerPrint,
  listing,
  MiB,
  type Node,
  snapshotAll,
  volumePrint,
  writeAll,
} from './helpers.js';

const SIZE = 64 * MiB;
let cluster: Cluster;
let a: Node;
let b: Node;

beforeEach(async () => {
  cluster = await Cluster.create();
  a = await cluster.node();
  b = await cluster.node();
});

afterEach(async () => {
  await cluster.close();
});

/** What the engine does around a rebuild: prepare, join snapshot on both, copy. */
async function rebuild(
  source: ReplicaClient,
  target: ReplicaClient,
  opts: Parameters<typeof directRebuilder>[0] = {},
): Promise<DirectRebuildProgress[]> {
  const r = directRebuilder({ pollMs: 20, fallback: false, viaSocket: true, ...opts });
  await r.prepare(source, target);
  await snapshotAll([source, target], 'join');
  const seen: DirectRebuildProgress[] = [];
  await r.copy(source, target, 'join', (p) => seen.push(p as DirectRebuildProgress));
  return seen;
}

/** A chain s1 <- s2 <- s3 with data, holes, overwrites, unaligned pieces and a trimmed range. */
async function fillChain(rs: ReplicaClient[]): Promise<void> {
  await writeAll(rs, 0, bytes(6 * MiB, 1));
  await writeAll(rs, 20 * MiB + 4096, bytes(3 * MiB, 2));
  await writeAll(rs, 40 * MiB + 1000, bytes(5000, 3)); // unaligned: whole 4 KiB blocks land
  await snapshotAll(rs, 's1');
  await writeAll(rs, 2 * MiB, bytes(1 * MiB, 4)); // overwrite part of s1's data
  await writeAll(rs, 63 * MiB, bytes(1 * MiB, 5)); // last MiB
  await snapshotAll(rs, 's2');
  await writeAll(rs, 10 * MiB, bytes(8 * MiB, 6));
  await Promise.all(rs.map((r) => r.unmap(12 * MiB, 2 * MiB))); // a hole inside the head's data
  await snapshotAll(rs, 's3');
  await writeAll(rs, 30 * MiB, bytes(64 * 1024, 7)); // in the head, becomes the join snapshot
}

describe('direct rebuild (replica-to-replica)', () => {
  // Both servers live in this test's process: `viaSocket: false` takes the same-process
  // shortcut (the source's store read directly), `true` the path between two hosts.
  it.each([true, false])(
    'rebuilds a chain of snapshots with data and holes onto a fresh replica (via socket: %s)',
    async (viaSocket) => {
      const src = await cluster.replica(a, 'src', SIZE);
      const tgt = await cluster.replica(b, 'tgt', SIZE);
      await fillChain([src]);
      const seen = await rebuild(src, tgt, { viaSocket });
      await expectSameLayers(src, tgt);
      // Holes stay holes: allocated ranges of every layer are equal (checked in layerPrint) and
      // the target's files hold no more data than the source's.
      const total = (await src.chain()).reduce((n, l) => n + l.allocatedBytes, 0);
      const last = seen[seen.length - 1]!;
      expect(last.bytesTotal).toBe(total);
      expect(last.bytesDone).toBe(total);
      expect(last.bytesFetched).toBe(total);
      expect(last.bytesReused).toBe(0);
      expect((await tgt.chain()).reduce((n, l) => n + l.allocatedBytes, 0)).toBe(total);
      // The target's head sits on the join snapshot and is still writable.
      const info = await tgt.info();
      expect((await tgt.chain()).find((l) => l.name === info.headName)!.parent).toBe('join');
    },
  );

  it.each([true, false])(
    'sends a returning replica only the 2 MiB pieces that differ, and skips equal layers (via socket: %s)',
    async (viaSocket) => {
      const src = await cluster.replica(a, 'src', SIZE);
      const tgt = await cluster.replica(b, 'tgt', SIZE);
      const both = [src, tgt];
      await writeAll(both, 0, bytes(16 * MiB, 1));
      await snapshotAll(both, 's1');
      await writeAll(both, 16 * MiB, bytes(8 * MiB, 2));
      await snapshotAll(both, 's2');
      await writeAll(both, 32 * MiB, bytes(8 * MiB, 3)); // head: 4 windows on both
      // The target goes away. The source changes 4 KiB in one window, rewrites another and
      // writes a window nobody had; the target got a write the source never saw (in flight
      // when it died).
      await src.write(34 * MiB + 8192, bytes(4096, 4));
      await src.write(36 * MiB, bytes(2 * MiB, 5));
      await src.write(50 * MiB, bytes(2 * MiB, 6));
      await tgt.write(56 * MiB, bytes(2 * MiB, 7));
      const seen = await rebuild(src, tgt, { viaSocket });
      await expectSameLayers(src, tgt);
      const last = seen[seen.length - 1]!;
      expect(last.layersSkipped.sort()).toEqual(['s1', 's2']);
      expect(last.bytesFetched).toBe(6 * MiB); // three 2 MiB pieces, out of 34 MiB of data
      expect(last.bytesReused).toBe(4 * MiB); // the join layer's two unchanged windows
      expect(last.bytesDone).toBe(last.bytesTotal);
      expect(last.bytesTotal).toBe(34 * MiB);
    },
  );

  it('brings a returning replica to a changed chain: deleted, coalesced and new snapshots', async () => {
    const src = await cluster.replica(a, 'src', SIZE);
    const tgt = await cluster.replica(b, 'tgt', SIZE);
    const both = [src, tgt];
    await writeAll(both, 0, bytes(8 * MiB, 1));
    await snapshotAll(both, 's1');
    await writeAll(both, 8 * MiB, bytes(4 * MiB, 2));
    await snapshotAll(both, 's2');
    await writeAll(both, 4 * MiB, bytes(4 * MiB, 3));
    await snapshotAll(both, 's3');
    // The target took a snapshot the source never got (the engine died mid-snapshot).
    await tgt.snapshot('only-here');
    // While the target is away: s2 is deleted and coalesced into s3; a new snapshot s4.
    await src.markRemoved('s2');
    expect(await src.purge()).toEqual(['s2']);
    await src.write(20 * MiB, bytes(2 * MiB, 4));
    await src.snapshot('s4', { userCreated: true });
    const dirBefore = join(b.dataDir, 'tgt');
    const seen = await rebuild(src, tgt);
    await expectSameLayers(src, tgt);
    const names = (await tgt.chain()).map((l) => l.name);
    expect(names).not.toContain('s2');
    expect(names).not.toContain('only-here');
    expect((await listing(dirBefore)).filter((f) => f.includes('-s2.') || f.includes('only-here'))).toEqual(
      [],
    );
    const last = seen[seen.length - 1]!;
    expect(last.layersSkipped).toContain('s1');
    expect(last.bytesReused).toBeGreaterThan(0);
  });

  it('keeps to the bandwidth limit', async () => {
    const src = await cluster.replica(a, 'src', SIZE);
    const tgt = await cluster.replica(b, 'tgt', SIZE);
    await src.write(0, bytes(12 * MiB, 1));
    const t0 = performance.now();
    // The bucket holds one second's worth: 4 MiB at once, then 8 MiB at 4 MiB/s.
    const seen = await rebuild(src, tgt, { bandwidthLimit: 4 * MiB });
    const seconds = (performance.now() - t0) / 1000;
    expect(seen[seen.length - 1]!.bytesFetched).toBe(12 * MiB);
    // The limit is the point: 8 MiB past the burst cannot arrive in under 2 s.
    expect(seconds).toBeGreaterThan(1.8);
    await expectSameLayers(src, tgt);
  });

  it.each([
    [true, "through the socket (the source server's layer reads)"],
    [false, "on the local shortcut (the sync agent's own reads)"],
  ])("keeps to the servers' bulk-transfer budget %s: %s", async (viaSocket) => {
    const bulk = new TokenBucket(4 * MiB);
    const budgeted = await Cluster.create({ bulk });
    try {
      const [x, y] = [await budgeted.node(), await budgeted.node()];
      const src = await budgeted.replica(x, 'src', SIZE);
      const tgt = await budgeted.replica(y, 'tgt', SIZE);
      await src.write(0, bytes(12 * MiB, 1));
      const t0 = performance.now();
      // No per-rebuild limit: only the servers' budget (4 MiB burst, then 4 MiB/s) holds it.
      const seen = await rebuild(src, tgt, { viaSocket });
      expect(seen[seen.length - 1]!.bytesFetched).toBe(12 * MiB);
      expect((performance.now() - t0) / 1000).toBeGreaterThan(1.8);
      // The comparison reads every layer whole: lift the budget (online) for it.
      bulk.setRate(0);
      await expectSameLayers(src, tgt);
    } finally {
      await budgeted.close();
    }
  });

  it('cancellation (abortImport) leaves a returning replica unchanged', async () => {
    const src = await cluster.replica(a, 'src', SIZE);
    const tgt = await cluster.replica(b, 'tgt', SIZE);
    const both = [src, tgt];
    await writeAll(both, 0, bytes(4 * MiB, 1));
    await snapshotAll(both, 's1');
    await src.write(8 * MiB, bytes(16 * MiB, 2));
    await snapshotAll(both, 'join');
    const before = await layerPrint(tgt);
    const dir = join(b.dataDir, 'tgt');
    const files = await listing(dir);
    const head = (await src.info()).headName;
    await tgt.syncFrom({
      source: a.address,
      sourceReplicaId: 'src',
      layers: (await src.chain()).filter((l) => l.name !== head),
      bandwidthLimit: 2 * MiB,
    });
    await waitFor('first piece', async () => (await tgt.syncProgress()).bytesFetched > 0);
    expect((await listing(dir)).some((f) => f.endsWith('.import'))).toBe(true);
    await tgt.abortImport();
    const st = await tgt.syncProgress();
    expect(st.state).toBe('cancelled');
    expect(st.bytesDone).toBeLessThan(st.bytesTotal);
    expect(await layerPrint(tgt)).toEqual(before);
    expect(await listing(dir)).toEqual(files);
  });

  it('a source that dies mid-sync fails the rebuild and leaves the target as it was', async () => {
    const src = await cluster.replica(a, 'src', SIZE);
    const tgt = await cluster.replica(b, 'tgt', SIZE);
    await src.write(0, bytes(24 * MiB, 1));
    const r = directRebuilder({ pollMs: 20, fallback: false, bandwidthLimit: 4 * MiB, viaSocket: true });
    await r.prepare(src, tgt);
    await snapshotAll([src, tgt], 'join');
    const dir = join(b.dataDir, 'tgt');
    const before = await layerPrint(tgt);
    const files = await listing(dir);
    let progressed = false;
    const copy = r.copy(src, tgt, 'join', (p) => {
      progressed ||= p.bytesDone > 0;
    });
    copy.catch(() => {});
    await waitFor('progress', () => progressed);
    await a.server.close(); // the source's replica server goes away mid-sync
    await expect(copy).rejects.toThrow(/failed/);
    const st = await tgt.syncProgress();
    expect(st.state).toBe('failed');
    expect(st.errorCode).toBe('EIO');
    expect(await layerPrint(tgt)).toEqual(before);
    expect(await listing(dir)).toEqual(files);
  });

  it('a sync nobody polls cancels itself (the engine died)', async () => {
    const src = await cluster.replica(a, 'src', SIZE);
    const tgt = await cluster.replica(b, 'tgt', SIZE);
    await src.write(0, bytes(16 * MiB, 1));
    await snapshotAll([src, tgt], 'join');
    const layers = (await src.chain()).slice(0, -1);
    await tgt.syncFrom({
      source: a.address,
      sourceReplicaId: 'src',
      layers,
      bandwidthLimit: 2 * MiB,
      leaseMs: 300,
    });
    // Polling would renew the lease: watch the replica's directory instead, until the job has
    // staged its layers and then until it dropped them.
    const dir = join(b.dataDir, 'tgt');
    const staged = async () => (await listing(dir)).some((f) => f.endsWith('.import'));
    await waitFor('layers staged', staged);
    await waitFor('job stopped', async () => !(await staged()));
    const st = await tgt.syncProgress();
    expect(st.state).toBe('cancelled');
    expect(st.error).toMatch(/nobody polled/);
    expect((await listing(join(b.dataDir, 'tgt'))).some((f) => f.endsWith('.import'))).toBe(false);
  });

  it('refuses bad requests and a second sync while one runs', async () => {
    const src = await cluster.replica(a, 'src', SIZE);
    const tgt = await cluster.replica(b, 'tgt', SIZE);
    await src.write(0, bytes(8 * MiB, 1));
    await snapshotAll([src, tgt], 'join');
    const layers = (await src.chain()).slice(0, -1);
    await expect(tgt.syncFrom({ source: 'nowhere', sourceReplicaId: 'src', layers })).rejects.toMatchObject({
      code: 'EINVAL',
    });
    await expect(
      tgt.syncFrom({ source: a.address, sourceReplicaId: 'src', layers: [] }),
    ).rejects.toMatchObject({
      code: 'EINVAL',
    });
    await tgt.syncFrom({ source: a.address, sourceReplicaId: 'src', layers, bandwidthLimit: 1 * MiB });
    await expect(tgt.syncFrom({ source: a.address, sourceReplicaId: 'src', layers })).rejects.toMatchObject({
      code: 'EPERM',
    });
    await tgt.abortImport();
    // An unknown source replica fails the job, not the request.
    await tgt.syncFrom({ source: a.address, sourceReplicaId: 'nope', layers });
    await waitFor('failure', async () => (await tgt.syncProgress()).state !== 'running');
    expect((await tgt.syncProgress()).state).toBe('failed');
  });
});

describe('direct rebuild through the engine', () => {
  it('adds a replica online under writes; both end with the same bytes', async () => {
    const src = await cluster.replica(a, 'src', SIZE);
    const engine = await Engine.start({ volume: 'v', timeoutMs: 8000 }, [
      { id: 'src', address: a.address, backend: src },
    ]);
    try {
      await engine.write(0, bytes(16 * MiB, 1), false);
      await engine.snapshot('s1', { userCreated: true });
      await engine.write(8 * MiB, bytes(8 * MiB, 2), false);
      const tgt = await cluster.replica(b, 'tgt', SIZE);
      let writing = true;
      const writer = (async () => {
        for (let i = 0; writing; i++) {
          await engine.write(((i * 37) % 60) * MiB + (i % 7) * 512, bytes(64 * 1024 + 100, 100 + i), false);
        }
      })();
      const percents: number[] = [];
      const watch = setInterval(() => {
        const r = engine.status().find((s) => s.id === 'tgt')?.rebuild;
        if (r) percents.push(r.percent);
      }, 10);
      await engine.addReplica(
        { id: 'tgt', address: b.address, backend: tgt },
        directRebuilder({ pollMs: 20 }),
      );
      clearInterval(watch);
      writing = false;
      await writer;
      await engine.flush();
      expect(engine.status().map((s) => s.mode)).toEqual(['RW', 'RW']);
      expect(percents.length).toBeGreaterThan(0);
      expect(await volumePrint(tgt)).toEqual(await volumePrint(src));
    } finally {
      await engine.close();
    }
  });
});
