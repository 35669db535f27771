import { afterEach, describe, expect, it } from 'vitest';
import { Replica } from '../../src/replica/index.js';
import { expectMatches, tempDir } from './helpers.js';
import { Model } from './model.js';
import { applyToModel, applyToReplica, nextOp, type OpProfile, rng } from './random-ops.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function runSeed(seed: number, steps: number, size: number, profile: OpProfile): Promise<void> {
  const { dir, cleanup } = await tempDir('replica-model');
  cleanups.push(cleanup);
  const r = rng(seed);
  const m = new Model(size);
  let replica = await Replica.create(dir, { size });
  const counter = { n: 0 };
  let step = 0;
  try {
    for (step = 0; step < steps; step++) {
      const op = nextOp(m, r, counter, profile);
      if (op.kind === 'reopen') {
        await replica.close();
        replica = await Replica.open(dir);
        await expectMatches(replica, m, `step ${step} reopen`, true);
        continue;
      }
      const purged = await applyToReplica(replica, op);
      const want = applyToModel(m, op);
      if (op.kind === 'purge') expect([...purged!].sort()).toEqual([...want!].sort());
      if (op.kind === 'unmap' && m.chainHasPruned()) {
        // Behind a pruned layer trimmed blocks show unspecified data: adopt what reads return.
        (await replica.read(0, m.size)).copy(m.head);
      }
      // Snapshot views and allocation only change on structural ops; checking them costs a read
      // per snapshot, so do it there and every 100 steps.
      const deep = step % 100 === 0 || ['purge', 'revert', 'expand'].includes(op.kind);
      await expectMatches(replica, m, `step ${step} ${op.kind}`, deep);
    }
    await replica.close();
    replica = await Replica.open(dir);
    await expectMatches(replica, m, 'final reopen', true);
    await replica.close();
  } catch (err) {
    await replica.close().catch(() => {});
    throw new Error(`model test failed: seed=${seed} step=${step}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

const envSeed = process.env.REPLICA_SEED ? Number(process.env.REPLICA_SEED) : undefined;

describe('replica vs in-memory model', () => {
  it('random interleaved ops on a 1 MiB volume (seed printed on failure)', async () => {
    const seed = envSeed ?? Math.floor(Math.random() * 2 ** 31);
    await runSeed(seed, 1500, 1 << 20, {
      maxSize: 2 << 20,
      maxSnapshots: 12,
      reopen: true,
      unspecifiedUnmap: true,
    });
  });

  it('a second seed with many snapshots on a small volume', async () => {
    const seed = (envSeed ?? Math.floor(Math.random() * 2 ** 31)) ^ 0x5bd1e995;
    await runSeed(seed, 800, 256 << 10, {
      maxSize: 512 << 10,
      maxSnapshots: 30,
      reopen: true,
      unspecifiedUnmap: false,
    });
  });
});
