import { BlockError } from '../block/block-error.js';

/** Validates an I/O range against the volume size; the frontend turns the error into EINVAL. */
export function checkRange(volume: string, size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new BlockError('EINVAL', `volume ${volume}: offset ${offset} is not a non-negative integer`);
  }
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new BlockError('EINVAL', `volume ${volume}: length ${length} is not a non-negative integer`);
  }
  if (offset + length > size) {
    throw new BlockError(
      'EINVAL',
      `volume ${volume}: range ${offset}+${length} is past the end (${size} bytes)`,
    );
  }
}

const SNAPSHOT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function checkSnapshotName(volume: string, name: string): void {
  if (!SNAPSHOT_NAME.test(name) || name.includes('..')) {
    throw new BlockError(
      'EINVAL',
      `volume ${volume}: snapshot name ${JSON.stringify(name)} is invalid (letters, digits, . _ -, up to 63, no "..")`,
    );
  }
}
