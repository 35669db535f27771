import { snapshotDataSource, type Volume, volumeDataSource } from '@longhorn-ts/api';
import type { CapacityRange } from '../csi-types.js';
import { CsiError, invalid, notFound, precondition } from '../errors.js';
import type { LonghornObjects } from '../k8s/longhorn-objects.js';
import { sizeFor } from './sizes.js';
import { parseSnapshotId, snapshotId } from './snapshot-ids.js';

/**
 * CreateVolume's volume_content_source: a VolumeSnapshot (`snap://<volume>/<snapshot>`) or a
 * PVC (its volume id) becomes the new Volume's spec.dataSource, which the operator clones from
 * (operator/src/volume/volume-clone.ts). CreateVolume answers once the Volume exists; the copy
 * runs afterwards and ControllerPublish refuses the volume until it is complete (`cloneGate`),
 * so nothing stages or mounts a half-copied volume.
 */

/** The CSI request's oneof, as @grpc/proto-loader hands it over (`type` names the branch). */
export interface ContentSourceRequest {
  type?: string;
  snapshot?: { snapshotId?: string } | null;
  volume?: { volumeId?: string } | null;
}

/** The content_source CreateVolume answers with. */
export type CsiContentSource = { snapshot: { snapshotId: string } } | { volume: { volumeId: string } };

export interface ResolvedSource {
  /** `snap://...` or `vol://...`: the operator clones (spec.dataSource). */
  dataSource?: string;
  /** A backup URL: the operator restores (spec.fromBackup); from a `bak://` snapshot. */
  fromBackup?: string;
  /** Bytes the new volume needs at least. */
  sourceSize: number;
  contentSource: CsiContentSource;
}

/** Looks the source up: NOT_FOUND when it does not exist (as the CSI spec asks). */
export async function resolveContentSource(
  objects: LonghornObjects,
  source: ContentSourceRequest,
): Promise<ResolvedSource> {
  if (source.type === 'snapshot') {
    const id = source.snapshot?.snapshotId ?? '';
    const parsed = parseSnapshotId(id);
    if (!parsed)
      throw notFound(
        `source snapshot ${JSON.stringify(id)} not found (ids are snap://<volume>/<snapshot> or bak://<volume>/<backup>)`,
      );
    const [snap, volume] = await Promise.all([
      objects.get('Snapshot', parsed.snapshot),
      objects.get('Volume', parsed.volume),
    ]);
    if (!snap || snap.spec.volume !== parsed.volume || snap.metadata.deletionTimestamp !== undefined)
      throw notFound(`source snapshot ${id} not found`);
    if (!volume || volume.metadata.deletionTimestamp !== undefined)
      throw notFound(`source snapshot ${id}: its volume ${parsed.volume} not found`);
    if (snap.status?.readyToUse !== true)
      throw new CsiError('BUSY', `source snapshot ${id} is not ready to use yet`);
    return {
      dataSource: snapshotDataSource(parsed.volume, parsed.snapshot),
      sourceSize: snap.status.restoreSize || Number(volume.spec.size ?? '0'),
      contentSource: { snapshot: { snapshotId: snapshotId(parsed.volume, parsed.snapshot) } },
    };
  }
  if (source.type === 'volume') {
    const name = source.volume?.volumeId ?? '';
    const volume = name ? await objects.get('Volume', name) : undefined;
    if (!volume || volume.metadata.deletionTimestamp !== undefined)
      throw notFound(`source volume ${JSON.stringify(name)} not found`);
    return {
      dataSource: volumeDataSource(name),
      sourceSize: Number(volume.spec.size ?? '0'),
      contentSource: { volume: { volumeId: name } },
    };
  }
  throw invalid(`volume_content_source: unknown type ${JSON.stringify(source.type)} (snapshot or volume)`);
}

/**
 * The size of a volume made from a source of `sourceSize` bytes: the source's size when the
 * request names none; never smaller than the source (OUT_OF_RANGE).
 */
export function sizeForSource(range: CapacityRange | null | undefined, sourceSize: number): number {
  const required = range?.requiredBytes ?? 0;
  const limit = range?.limitBytes ?? 0;
  if (limit > 0 && limit < sourceSize)
    throw new CsiError('OUT_OF_RANGE', `limit bytes ${limit} are less than the source's ${sourceSize} bytes`);
  if (required === 0) {
    sizeFor(range); // the range's own checks
    return sourceSize;
  }
  const size = sizeFor(range);
  if (size < sourceSize)
    throw new CsiError(
      'OUT_OF_RANGE',
      `requested ${size} bytes is less than the source's ${sourceSize} bytes: a volume made from it must hold it`,
    );
  return size;
}

/** The content source an existing volume was made from (a repeated CreateVolume answers it). */
export function contentSourceOf(volume: Volume): CsiContentSource | undefined {
  const ds = volume.spec.dataSource ?? '';
  const snap = /^snap:\/\/([^/]+)\/([^/]+)$/.exec(ds);
  if (snap) return { snapshot: { snapshotId: snapshotId(snap[1]!, snap[2]!) } };
  const vol = /^vol:\/\/([^/]+)$/.exec(ds);
  if (vol) return { volume: { volumeId: vol[1]! } };
  return undefined;
}

/**
 * ControllerPublish of a volume made from a source: refused until the operator completed the
 * copy (BUSY: the attacher retries), and for good when the copy failed.
 */
export function cloneGate(volume: Volume): void {
  const ds = volume.spec.dataSource;
  if (!ds) return;
  const state = volume.status?.cloneStatus?.state ?? '';
  if (state === 'completed') return;
  const name = volume.metadata.name;
  if (state === 'failed')
    throw precondition(
      `volume ${name} could not be cloned from ${ds} (see its Events); it holds no usable data: delete it`,
    );
  throw new CsiError('BUSY', `volume ${name} is being cloned from ${ds} (${state || 'not started'}); retry`);
}
