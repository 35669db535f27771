import type { CapacityRange } from '../csi-types.js';
import { CsiError } from '../errors.js';

/** Longhorn sizes volumes in 2 MiB steps. */
export const SIZE_ALIGNMENT = 2 * 1024 * 1024;
/** A request without a size gets Longhorn's default (2 GiB). */
export const DEFAULT_VOLUME_SIZE = 2 * 1024 * 1024 * 1024;

export function roundUp(bytes: number): number {
  return Math.ceil(bytes / SIZE_ALIGNMENT) * SIZE_ALIGNMENT;
}

/** The size to create for a capacity range: required rounded up to 2 MiB, within the limit. */
export function sizeFor(range: CapacityRange | null | undefined): number {
  const required = range?.requiredBytes ?? 0;
  const limit = range?.limitBytes ?? 0;
  if (required < 0 || limit < 0)
    throw new CsiError('OUT_OF_RANGE', 'capacity range bytes must not be negative');
  if (limit > 0 && required > limit)
    throw new CsiError('OUT_OF_RANGE', `required bytes ${required} exceed limit bytes ${limit}`);
  if (required === 0 && limit > 0) {
    const size = Math.floor(limit / SIZE_ALIGNMENT) * SIZE_ALIGNMENT;
    if (size === 0)
      throw new CsiError('OUT_OF_RANGE', `limit bytes ${limit} are below the 2 MiB volume size step`);
    return Math.min(size, DEFAULT_VOLUME_SIZE);
  }
  const size = roundUp(required === 0 ? DEFAULT_VOLUME_SIZE : required);
  if (limit > 0 && size > limit)
    throw new CsiError(
      'OUT_OF_RANGE',
      `required bytes ${required} round up to ${size} (a multiple of 2 MiB), above limit bytes ${limit}`,
    );
  return size;
}

/** Whether an existing volume of `size` bytes satisfies the range (a repeated CreateVolume). */
export function sizeSatisfies(size: number, range: CapacityRange | null | undefined): boolean {
  const required = range?.requiredBytes ?? 0;
  const limit = range?.limitBytes ?? 0;
  return size >= required && (limit === 0 || size <= limit);
}
