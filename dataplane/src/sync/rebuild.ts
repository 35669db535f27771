import { BlockError } from '../block/block-error.js';
import { ioBuffers } from '../block/buffer-pool.js';
import { TokenBucket } from '../net/token-bucket.js';
import type { ReplicaBackend } from '../replica/replica-backend.js';
import type { LayerImport, LayerInfo } from '../replica/types.js';
import { type CopyPiece, planCopy, totalBytes } from './copy-plan.js';

export interface RebuildProgressReport {
  bytesDone: number;
  bytesTotal: number;
}

export interface RebuildOptions {
  /** Bytes per second; 0 or absent = unlimited. */
  bandwidthLimit?: number;
  /** Pieces copied at once (Longhorn uses 4 workers). */
  workers?: number;
}

/**
 * Rebuilds a fresh replica from a healthy one in two steps around the engine's join point:
 * `prepare` checks the target is fresh before it joins; after the engine took the join
 * snapshot (the target already receives every new write into its head), `copy` stages the
 * source's layers up to and including the join snapshot on the target (holes skipped) and
 * commits them at once; the staged join snapshot replaces the target's empty one.
 */
export interface Rebuilder {
  prepare(source: ReplicaBackend, target: ReplicaBackend): Promise<void>;
  copy(
    source: ReplicaBackend,
    target: ReplicaBackend,
    snapshot: string,
    progress: (p: RebuildProgressReport) => void,
  ): Promise<void>;
}

export function replicaRebuilder(opts: RebuildOptions = {}): Rebuilder {
  return {
    async prepare(source, target) {
      const targetChain = await target.chain();
      if (targetChain.length !== 1) {
        throw new BlockError(
          'EINVAL',
          `rebuild target already has ${targetChain.length - 1} snapshot(s); use a fresh replica`,
        );
      }
      await source.info();
    },

    async copy(source, target, snapshot, progress) {
      const chain = await source.chain();
      const upTo = chain.findIndex((l) => l.name === snapshot);
      if (upTo < 0) throw new BlockError('EIO', `rebuild source lacks the join snapshot ${snapshot}`);
      const layers = chain.slice(0, upTo + 1);
      const withRanges = await Promise.all(
        layers.map(async (l) => ({ name: l.name, ranges: await source.allocatedRanges(l.name) })),
      );
      const pieces = planCopy(withRanges);
      const report = { bytesDone: 0, bytesTotal: totalBytes(pieces) };
      progress({ ...report });
      try {
        for (const layer of layers) await target.importLayer(layerMeta(layer));
        const move = async (p: CopyPiece) => {
          const data = await source.readLayer(p.layer, p.offset, p.length);
          await target.writeLayer(p.layer, p.offset, data);
          // Written (the target answered, so a socket holds it no longer): back to the pool it
          // came from, if any (a local store's read or a client's response), else ignored.
          ioBuffers.release(data);
        };
        await copyPieces(pieces, opts, move, (n) => {
          report.bytesDone += n;
          progress({ ...report });
        });
        await target.finishImport();
      } catch (err) {
        await target.abortImport().catch(() => {});
        throw err;
      }
      const after = await target.chain();
      const want = layers.map((l) => l.name).join(',');
      const got = after
        .slice(0, -1)
        .map((l) => l.name)
        .join(',');
      if (want !== got)
        throw new BlockError('EIO', `rebuilt chain [${got}] differs from the source's [${want}]`);
    },
  };
}

/**
 * Moves pieces with `workers` at a time under the bandwidth limit; `move` carries one piece
 * (read it from the source, write it wherever it belongs). Shared by rebuild and clone.
 */
export async function copyPieces(
  pieces: readonly CopyPiece[],
  opts: RebuildOptions,
  move: (piece: CopyPiece) => Promise<void>,
  done: (bytes: number) => void,
): Promise<void> {
  const bucket = new TokenBucket(opts.bandwidthLimit ?? 0);
  let next = 0;
  const worker = async () => {
    while (next < pieces.length) {
      const piece = pieces[next++]!;
      await bucket.take(piece.length);
      try {
        await move(piece);
      } catch (err) {
        next = pieces.length; // the other workers stop at their next piece
        throw err;
      }
      done(piece.length);
    }
  };
  // Every worker settles before the first failure is thrown: nothing is in flight afterwards.
  const results = await Promise.allSettled(Array.from({ length: Math.max(1, opts.workers ?? 4) }, worker));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

/** The import metadata that recreates a layer as the source has it. */
export function layerMeta(l: LayerInfo): LayerImport {
  return {
    name: l.name,
    parent: l.parent,
    removed: l.removed,
    userCreated: l.userCreated,
    created: l.created,
    labels: l.labels,
    size: l.size,
  };
}
