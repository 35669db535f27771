import type { StringMap } from '../csi-types.js';
import { invalid, precondition } from '../errors.js';

/** What a CSI snapshot is in Longhorn: an in-cluster snapshot, or a backup in the backup target. */
export type CsiSnapshotKind = 'snap' | 'bak';

const TYPE_PARAMETER = 'type';

/** Keys the external-snapshotter adds (`--extra-create-metadata`) or reserves; never ours. */
const RESERVED_PREFIX = 'csi.storage.k8s.io/';

/**
 * The kind a VolumeSnapshotClass asks for (Longhorn's `type` parameter): `snap`, `bak`, or no
 * type at all, which Longhorn takes as `bak` for compatibility (its first CSI snapshots were
 * backups); `bs` is Longhorn's deprecated spelling of `bak`. Other parameters are refused by name.
 */
export function snapshotClassKind(parameters: StringMap): CsiSnapshotKind {
  const unknown = Object.keys(parameters).filter(
    (k) => k !== TYPE_PARAMETER && !k.startsWith(RESERVED_PREFIX),
  );
  if (unknown.length > 0)
    throw invalid(`unknown VolumeSnapshotClass parameter(s) ${unknown.sort().join(', ')} (known: type)`);
  const type = parameters[TYPE_PARAMETER] ?? '';
  if (type === 'snap') return 'snap';
  if (type === 'bak' || type === 'bs' || type === '') return 'bak';
  if (type === 'bi')
    throw precondition(
      'parameter type: "bi" (a backing image) is not available: longhorn-ts has no backing images',
    );
  throw invalid(`parameter type: "${type}" is not one of snap, bak (or unset: bak)`);
}

/**
 * The labels Longhorn puts on the snapshot and the backup a CSI snapshot makes: the class's
 * parameters and what the snapshotter added (VolumeSnapshot name and namespace), as given.
 */
export function snapshotLabels(parameters: StringMap): StringMap {
  return { ...parameters };
}
