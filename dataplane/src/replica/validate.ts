import { ReplicaError } from './errors.js';

/** The allocation and read-modify-write unit; also the unit of the extent index. */
export const BLOCK_SIZE = 4096;
/** Longest snapshot name: `volume-snap-<name>.img.meta.tmp` must fit in a 255-byte file name. */
export const MAX_NAME_BYTES = 200;

export function checkRange(offset: number, length: number, size: number, what = 'volume'): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new ReplicaError('INVALID_ARGUMENT', `offset ${offset} is not a non-negative integer`, {
      offset,
      length,
    });
  }
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new ReplicaError('INVALID_ARGUMENT', `length ${length} is not a non-negative integer`, {
      offset,
      length,
    });
  }
  if (offset + length > size) {
    throw new ReplicaError('OUT_OF_RANGE', `range ${offset}+${length} ends past the ${what} size ${size}`, {
      offset,
      length,
    });
  }
}

export function checkBuffer(data: unknown): asserts data is Buffer {
  if (!Buffer.isBuffer(data)) throw new ReplicaError('INVALID_ARGUMENT', 'data must be a Buffer');
}

export function checkSize(size: number): void {
  if (!Number.isSafeInteger(size) || size <= 0 || size % BLOCK_SIZE !== 0) {
    throw new ReplicaError('INVALID_SIZE', `size ${size} is not a positive multiple of ${BLOCK_SIZE}`);
  }
}

export function checkGeneration(generation: number): void {
  if (!Number.isSafeInteger(generation) || generation < 0) {
    throw new ReplicaError('INVALID_ARGUMENT', `generation ${generation} is not a non-negative integer`);
  }
}

/** Largest key rotation record a replica keeps (a 1 MiB chunk's fingerprints take ~6 KiB). */
export const MAX_KEY_ROTATION_BYTES = 64 * 1024;

/** A data-key rotation record: text of at most MAX_KEY_ROTATION_BYTES, or null. */
export function checkKeyRotation(record: unknown): asserts record is string | null {
  if (record === null) return;
  if (typeof record !== 'string' || record.length === 0) {
    throw new ReplicaError('INVALID_ARGUMENT', 'key rotation record must be a non-empty string or null');
  }
  if (Buffer.byteLength(record) > MAX_KEY_ROTATION_BYTES) {
    throw new ReplicaError(
      'INVALID_ARGUMENT',
      `key rotation record of ${Buffer.byteLength(record)} bytes is over ${MAX_KEY_ROTATION_BYTES}`,
    );
  }
}

/** Snapshot names become file names, so they must not escape the directory or break paths. */
export function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new ReplicaError('INVALID_NAME', 'snapshot name must be a non-empty string');
  }
  if (name.includes('/') || name.includes('\0') || name.includes('..') || name === '.') {
    throw new ReplicaError(
      'INVALID_NAME',
      `snapshot name ${JSON.stringify(name)} contains '/', '..' or NUL`,
      {
        layer: name,
      },
    );
  }
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
    throw new ReplicaError('INVALID_NAME', `snapshot name is longer than ${MAX_NAME_BYTES} bytes`, {
      layer: name,
    });
  }
}

export function checkLabels(labels: unknown): Record<string, string> {
  if (labels === undefined) return {};
  if (
    typeof labels !== 'object' ||
    labels === null ||
    Array.isArray(labels) ||
    !Object.values(labels).every((v) => typeof v === 'string')
  ) {
    throw new ReplicaError('INVALID_ARGUMENT', 'labels must map strings to strings');
  }
  return { ...(labels as Record<string, string>) };
}

export function checkCreated(created: unknown): string {
  if (created === undefined) return new Date().toISOString();
  if (typeof created !== 'string' || Number.isNaN(Date.parse(created))) {
    throw new ReplicaError('INVALID_ARGUMENT', `created ${String(created)} is not an ISO-8601 time`);
  }
  return created;
}
