/**
 * Every refusal of the replica store is a `ReplicaError` with a stable `code`; the replica
 * protocol carries the code as a string and the engine maps it to a block errno. Validation
 * happens before any I/O, so a rejected call never changes anything on disk.
 */
export type ReplicaErrorCode =
  /** offset/length/size is not a non-negative safe integer, or data is not a Buffer. */
  | 'INVALID_ARGUMENT'
  /** The byte range reaches past the end of the volume (or of the layer). */
  | 'OUT_OF_RANGE'
  /** A snapshot/layer name is empty, too long, or contains `/`, `..` or NUL. */
  | 'INVALID_NAME'
  | 'SNAPSHOT_NOT_FOUND'
  | 'SNAPSHOT_EXISTS'
  /** The operation is not allowed on the head or on a removed snapshot. */
  | 'INVALID_LAYER'
  /** expand() to a size smaller than the current one. */
  | 'SHRINK_NOT_ALLOWED'
  /** The size is not a positive multiple of the 4 KiB block. */
  | 'INVALID_SIZE'
  /** open() on a directory without replica metadata. */
  | 'NOT_A_REPLICA'
  /** The file system cannot report holes (SEEK_DATA) or punch them. */
  | 'UNSUPPORTED_FILESYSTEM'
  /** The replica directory is already open (in this or another process). */
  | 'BUSY'
  /** create() where a replica already exists. */
  | 'ALREADY_EXISTS'
  /** Metadata that does not parse, fails validation, or names a missing file. */
  | 'CORRUPT_METADATA'
  /** writeLayer()/finishImport() without a matching importLayer(), or an inconsistent import. */
  | 'IMPORT_INVALID'
  | 'CLOSED';

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
