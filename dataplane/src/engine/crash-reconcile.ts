import type { Logger } from '../logging/logger.js';
import type { ReplicaBackend } from '../replica/replica-backend.js';
import { unionRanges } from './range-union.js';

const PIECE = 4 * 1024 * 1024;

export interface ReconcileTarget {
  id: string;
  backend: ReplicaBackend;
}

/**
 * After an unclean stop, replicas of the newest generation agree everywhere except where writes
 * were in flight. Each replica's write-intent map (`dirtyRanges`) covers every byte it may have
 * written since it was last declared equal to the others, so copying the union of those ranges
 * from one replica to the rest makes them equal again, without a full rebuild. Snapshots are
 * not covered by the map: a replica whose chain differs from the source's is left for a rebuild.
 * Returns, per target, null when reconciled or the reason it was not.
 */
export async function reconcileAfterCrash(
  source: ReconcileTarget,
  targets: readonly ReconcileTarget[],
  log: Logger,
): Promise<Map<string, string | null>> {
  const result = new Map<string, string | null>();
  const names = (chain: { name: string }[]) => chain.map((l) => l.name).join('/');
  const want = names(await source.backend.chain());
  const equal: ReconcileTarget[] = [];
  for (const t of targets) {
    try {
      const got = names(await t.backend.chain());
      if (got === want) equal.push(t);
      else
        result.set(t.id, `needs rebuild after an unclean stop: snapshot chain differs (${got} vs ${want})`);
    } catch (err) {
      result.set(t.id, `needs rebuild after an unclean stop: ${(err as Error).message}`);
    }
  }
  if (equal.length === 0) return result;
  const lists = await Promise.all([source, ...equal].map((r) => r.backend.dirtyRanges()));
  const ranges = unionRanges(lists);
  const failed = new Set<string>();
  let bytes = 0;
  for (const r of ranges) {
    for (let off = r.offset; off < r.offset + r.length; off += PIECE) {
      const len = Math.min(PIECE, r.offset + r.length - off);
      const data = await source.backend.read(off, len);
      bytes += len;
      await Promise.all(
        equal
          .filter((t) => !failed.has(t.id))
          .map((t) =>
            t.backend.write(off, data).catch((err: Error) => {
              failed.add(t.id);
              result.set(t.id, `needs rebuild after an unclean stop: ${err.message}`);
            }),
          ),
      );
    }
  }
  const done = equal.filter((t) => !failed.has(t.id));
  await Promise.all(
    [source, ...done].map(async (r) => {
      await r.backend.flush();
      await r.backend.markClean();
    }),
  );
  for (const t of done) result.set(t.id, null);
  log.info(
    { source: source.id, reconciled: done.map((t) => t.id), ranges: ranges.length, bytes },
    'reconciled after an unclean stop',
  );
  return result;
}
