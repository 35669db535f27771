import { BlockError } from '../block/block-error.js';
import type { Logger } from '../logging/logger.js';
import type { Rebuilder } from '../sync/rebuild.js';
import type { IoBarrier } from './io-barrier.js';
import type { Member, ReplicaEndpoint, ReplicaSet } from './replica-set.js';

export interface RebuildContext {
  volume: string;
  set: ReplicaSet;
  barrier: IoBarrier;
  log: Logger;
}

/**
 * Adds a replica and rebuilds it online, as Longhorn does: with I/O paused it joins write-only
 * and every replica (it too) takes one system snapshot, the join point; from then on it receives
 * every write while `rebuilder` copies the layers up to the join snapshot from an RW replica;
 * then, with I/O paused again, it turns RW and the generation is bumped on every RW replica, it
 * included. Until that moment it holds an older generation, so a stop or crash mid-way leaves it
 * stale for the next start.
 */
export async function rebuildOnline(
  ctx: RebuildContext,
  endpoint: ReplicaEndpoint,
  rebuilder: Rebuilder,
): Promise<void> {
  const { set, barrier, volume, log } = ctx;
  const snapshotName = `rebuild-${Date.now().toString(36)}`;
  let member: Member | undefined;
  try {
    const first = set.pickReader();
    if (!first) throw new BlockError('EIO', `volume ${volume}: no RW replica to rebuild from`);
    await rebuilder.prepare(first.backend, endpoint.backend);
    await barrier.exclusive(async () => {
      const old = set.members.find((m) => m.id === endpoint.id);
      if (old) set.drop(old);
      member = set.add(endpoint, 'WO');
      member.rebuild = { bytesDone: 0, bytesTotal: 0 };
      // It gets every later record with the writes; the last one first (an older one of its own
      // would tell a start that chose it to re-encrypt blocks that are under the new key).
      const record = set.keyRotation;
      if (record !== undefined) {
        const m = member;
        await set.call(m, m.backend.setKeyRotation(record)).catch((err) => set.eject(m, err));
      }
      const created = new Date().toISOString();
      await set.fanOut((m) => m.backend.snapshot(snapshotName, { userCreated: false, created }));
      if (member.mode === 'ERR') throw new BlockError('EIO', `replica ${endpoint.id}: ${member.error}`);
    });
    const joined = member!;
    const source = set.pickReader();
    if (!source) throw new BlockError('EIO', `volume ${volume}: no RW replica to rebuild from`);
    log.info({ replica: endpoint.id, source: source.id }, 'rebuild started');
    await Promise.race([
      rebuilder.copy(source.backend, joined.backend, snapshotName, (p) => {
        joined.rebuild = { ...p };
      }),
      joined.ejected,
    ]);
    await barrier.exclusive(async () => {
      if (joined.mode !== 'WO') throw new BlockError('EIO', `replica ${endpoint.id} failed during rebuild`);
      if (set.stopping) throw new BlockError('EIO', `volume ${volume}: the engine is stopping`);
      set.setMode(joined, 'RW');
      joined.rebuild = undefined;
      set.generation += 2;
      await set.persistGeneration();
      await set.generationCommitted();
    });
    log.info({ replica: endpoint.id }, 'rebuild done');
  } catch (err) {
    if (member && member.mode !== 'ERR') set.eject(member, err);
    throw err;
  }
}
