import { BlockError } from '../block/block-error.js';
import { ioBuffers } from '../block/buffer-pool.js';
import { ReplicaError } from '../replica/errors.js';
import type { ReplicaBackend } from '../replica/replica-backend.js';
import type { ByteRange, LayerInfo } from '../replica/types.js';
import { type CopyPiece, totalBytes } from './copy-plan.js';
import { planFlatten, snapshotLineage } from './flatten-plan.js';
import { copyPieces, type RebuildOptions, type RebuildProgressReport } from './rebuild.js';

/** What a clone reads of the source volume's replica (the protocol's ReplicaClient offers it). */
export interface CloneSource {
  chain(): Promise<LayerInfo[]>;
  allocatedRanges(layer?: string): Promise<ByteRange[]>;
  readLayer(name: string, offset: number, length: number): Promise<Buffer>;
}

export interface CloneTarget {
  id: string;
  backend: ReplicaBackend;
}

/**
 * Runs one step on every target still in the clone and resolves when each answered or was
 * dropped (the engine's fan-out: a target that fails or times out is ejected, the clone goes on
 * with the others while one is left). `eachTarget(list)` is the plain form: every target, the
 * first failure rejects.
 */
export type ForEachTarget = (op: (t: CloneTarget) => Promise<unknown>) => Promise<void>;

export function eachTarget(targets: readonly CloneTarget[]): ForEachTarget {
  return async (op) => {
    if (targets.length === 0) throw new BlockError('EIO', 'no replica to clone into');
    await Promise.all(targets.map(op));
  };
}

export interface CloneRequest {
  /** The source snapshot: the clone holds the volume as it was when it was taken. */
  snapshot: string;
  /** The name of the one layer the clone's replicas receive (their head sits on it). */
  layer: string;
}

/**
 * Longhorn's snapshot clone (full copy): a new volume's replicas are filled from a snapshot of
 * another volume. The snapshot's lineage on one source replica is flattened into a single
 * layer (each byte from the newest layer holding it, holes left as holes) that every target
 * receives at once: read once from the source, written to all of them. The layer is staged
 * (`importLayer`) and committed at once (`finishImport`), then the head is put on top of it
 * (`revert`): a crash before the commit leaves no trace, and one after it leaves a target that
 * the next clone overwrites the same way. Whether a clone is complete is never read from the
 * replicas: the caller records it once this resolves (the operator's Volume cloneStatus).
 *
 * Only a target that holds no data of its own is filled: no snapshot other than `layer`, and an
 * empty head. Anything else is refused (EPERM), leaving it untouched.
 */
export async function cloneSnapshot(
  source: CloneSource,
  each: ForEachTarget,
  req: CloneRequest,
  opts: RebuildOptions,
  progress: (p: RebuildProgressReport) => void,
): Promise<void> {
  const lineage = snapshotLineage(await source.chain(), req.snapshot);
  const snap = lineage[lineage.length - 1]!;
  await each((t) => checkFresh(t, req.layer, snap.size));

  const withRanges = await Promise.all(
    lineage.map(async (l) => ({ name: l.name, ranges: await source.allocatedRanges(l.name) })),
  );
  const pieces = planFlatten(withRanges);
  const report = { bytesDone: 0, bytesTotal: totalBytes(pieces) };
  progress({ ...report });
  try {
    // A stage left by an engine that died mid-clone would refuse the new one.
    await each((t) => t.backend.abortImport());
    await each((t) =>
      t.backend.importLayer({
        name: req.layer,
        parent: null,
        size: snap.size,
        created: snap.created,
        labels: snap.labels,
        userCreated: true,
      }),
    );
    const move = async (p: CopyPiece) => {
      const data = await source.readLayer(p.layer, p.offset, p.length);
      await each((t) => t.backend.writeLayer(req.layer, p.offset, data));
      // Every target answered, so nothing holds it: back to the pool it came from, if any
      // (as rebuild's copy does). After a failure a target may still be sending it: left to GC.
      ioBuffers.release(data);
    };
    await copyPieces(pieces, opts, move, (n) => {
      report.bytesDone += n;
      progress({ ...report });
    });
    await each((t) => t.backend.finishImport());
  } catch (err) {
    await each((t) => t.backend.abortImport().catch(() => {})).catch(() => {});
    throw err;
  }
  const created = new Date().toISOString();
  await each((t) => t.backend.revert(req.layer, created));
  await each((t) => checkCloned(t, req.layer));
}

async function checkFresh(t: CloneTarget, layer: string, snapshotSize: number): Promise<void> {
  const [info, chain] = await Promise.all([t.backend.info(), t.backend.chain()]);
  if (snapshotSize > info.size) {
    throw new ReplicaError(
      'OUT_OF_RANGE',
      `the snapshot is ${snapshotSize} bytes, more than the volume's ${info.size}`,
      { replica: t.id },
    );
  }
  const others = chain.filter((l) => l.name !== info.headName && l.name !== layer).map((l) => l.name);
  if (others.length > 0) {
    throw new BlockError(
      'EPERM',
      `replica ${t.id} already holds snapshot(s) ${others.join(', ')}: a clone fills only a new volume`,
    );
  }
  const head = await t.backend.allocatedRanges(info.headName);
  if (head.length > 0) {
    throw new BlockError(
      'EPERM',
      `replica ${t.id} already holds data written to it: a clone fills only a new volume`,
    );
  }
}

async function checkCloned(t: CloneTarget, layer: string): Promise<void> {
  const [info, chain] = await Promise.all([t.backend.info(), t.backend.chain()]);
  const head = chain.find((l) => l.name === info.headName);
  const below = chain.filter((l) => l.name !== info.headName).map((l) => l.name);
  if (head?.parent !== layer || below.length !== 1 || below[0] !== layer) {
    throw new BlockError(
      'EIO',
      `replica ${t.id}: after the clone the chain is [${below.join(',')}] under ${head?.parent ?? 'nothing'}`,
    );
  }
}
