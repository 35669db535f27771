import type { Volume } from '@longhorn-ts/api';
import type { CapacityRange } from '../csi-types.js';
import { CsiError } from '../errors.js';
import { roundUp } from './sizes.js';

/** What ControllerExpandVolume does for a volume and a capacity range. */
export interface ExpansionPlan {
  /** The size asked, rounded up to Longhorn's 2 MiB step. */
  wanted: number;
  /** Write `spec.size = wanted` (the volume is smaller). */
  grow: boolean;
  /** Answer only once the engine reports `wanted` bytes (the volume is attached: online). */
  waitForEngine: boolean;
  capacityBytes: number;
}

/**
 * Detached volumes grow when next attached; attached ones online, answered once the engine
 * serves the size, so a retry after a deadline waits again. A volume between states is BUSY
 * (ABORTED: the resizer retries), since the operator could miss the change mid-transition.
 */
export function expansionPlan(
  volume: Pick<Volume, 'metadata' | 'spec' | 'status'>,
  range: CapacityRange,
): ExpansionPlan {
  const name = volume.metadata.name;
  const required = range.requiredBytes ?? 0;
  const limit = range.limitBytes ?? 0;
  if (required < 0 || limit < 0)
    throw new CsiError('OUT_OF_RANGE', 'capacity range bytes must not be negative');
  const wanted = roundUp(required);
  if (limit > 0 && wanted > limit)
    throw new CsiError('OUT_OF_RANGE', `required bytes round up to ${wanted}, above limit bytes ${limit}`);
  const current = Number(volume.spec.size ?? '0');
  const state = volume.status?.state ?? '';
  const grow = wanted > current;
  if (grow && state !== 'detached' && state !== 'attached')
    throw new CsiError(
      'BUSY',
      `volume ${name} is ${state || 'being created'}: retry once attached or detached`,
    );
  return { wanted, grow, waitForEngine: state === 'attached', capacityBytes: Math.max(wanted, current) };
}
