import type { BlockErrorCode } from '../block/block-error.js';
import type { ErrorCode } from '../block/error-codes.js';

/**
 * Every refusal of the replica store is a `ReplicaError` with a stable `code`; the replica
 * protocol carries the code as a string and each edge maps it (block/error-codes.ts). Validation
 * happens before any I/O, so a rejected call never changes anything on disk.
 *
 * The replica store's codes, a subset of the data plane's (block/error-codes.ts):
 * - INVALID_ARGUMENT: offset/length/size is not a non-negative safe integer, or data not a Buffer;
 * - OUT_OF_RANGE: the byte range reaches past the end of the volume (or of the layer);
 * - INVALID_NAME: a snapshot/layer name is empty, too long, or contains `/`, `..` or NUL;
 * - SNAPSHOT_NOT_FOUND, SNAPSHOT_EXISTS;
 * - INVALID_LAYER: the operation is not allowed on the head or on a removed snapshot;
 * - SHRINK_NOT_ALLOWED: expand() to a smaller size; INVALID_SIZE: not a positive multiple of 4 KiB;
 * - NOT_A_REPLICA: open() on a directory without replica metadata;
 * - UNSUPPORTED_FILESYSTEM: the file system cannot report or punch holes;
 * - BUSY: the replica directory is already open (in this or another process);
 * - ALREADY_EXISTS: create() where a replica already exists;
 * - CORRUPT_METADATA: metadata that does not parse, fails validation, or names a missing file;
 * - IMPORT_INVALID: writeLayer()/finishImport() without a matching importLayer(), or inconsistent;
 * - CLOSED.
 */
export type ReplicaErrorCode = Exclude<ErrorCode, BlockErrorCode | 'NOT_FOUND'>;

export interface ReplicaErrorContext {
  replica?: string;
  layer?: string;
  offset?: number;
  length?: number;
  file?: string;
}

export class ReplicaError extends Error {
  readonly code: ReplicaErrorCode;
  readonly context: ReplicaErrorContext;
  constructor(code: ReplicaErrorCode, message: string, context: ReplicaErrorContext = {}, cause?: unknown) {
    super(`${code}: ${message}`, cause === undefined ? undefined : { cause });
    this.name = 'ReplicaError';
    this.code = code;
    this.context = context;
  }
}

export function isReplicaError(err: unknown, code?: ReplicaErrorCode): err is ReplicaError {
  return err instanceof ReplicaError && (code === undefined || err.code === code);
}
