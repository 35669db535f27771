/**
 * The data plane's one set of error codes. Every error that crosses an edge (the replica wire,
 * NBD, gRPC) carries one of these; each edge maps them with one table typed
 * `Record<ErrorCode, ...>`, so a new code without a mapping does not compile. Clients keep the
 * code they received: a code that came over the wire is the code the caller sees.
 */
export const ERROR_CODES = [
  // Block-level (errno-like): the NBD frontend answers these one to one.
  'EIO',
  'EINVAL',
  'ENOSPC',
  'EPERM',
  'ENOTSUP',
  'ESHUTDOWN',
  // The replica store's refusals (replica/errors.ts says when each is raised).
  'INVALID_ARGUMENT',
  'OUT_OF_RANGE',
  'INVALID_NAME',
  'SNAPSHOT_NOT_FOUND',
  'SNAPSHOT_EXISTS',
  'INVALID_LAYER',
  'SHRINK_NOT_ALLOWED',
  'INVALID_SIZE',
  'NOT_A_REPLICA',
  'UNSUPPORTED_FILESYSTEM',
  'BUSY',
  'ALREADY_EXISTS',
  'CORRUPT_METADATA',
  'IMPORT_INVALID',
  'CLOSED',
  // Control services (instance manager, engine service).
  'NOT_FOUND',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const KNOWN: ReadonlySet<string> = new Set(ERROR_CODES);

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && KNOWN.has(code);
}

/** The code an error carries, when it is one of ours. */
export function errorCodeOf(err: unknown): ErrorCode | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return isErrorCode(code) ? code : undefined;
}

/**
 * Whether a code says the request itself was wrong (a missing snapshot, a bad name, a shrink):
 * the replica that answered it is healthy and must not be ejected for it. Every other failure
 * (I/O errors, lost connections, corrupt metadata) counts against the replica.
 */
export const IS_REQUEST_ERROR = {
  EIO: false,
  EINVAL: true,
  ENOSPC: false,
  EPERM: true,
  ENOTSUP: true,
  ESHUTDOWN: false,
  INVALID_ARGUMENT: true,
  OUT_OF_RANGE: true,
  INVALID_NAME: true,
  SNAPSHOT_NOT_FOUND: true,
  SNAPSHOT_EXISTS: true,
  INVALID_LAYER: true,
  SHRINK_NOT_ALLOWED: true,
  INVALID_SIZE: true,
  NOT_A_REPLICA: false,
  UNSUPPORTED_FILESYSTEM: false,
  BUSY: false,
  ALREADY_EXISTS: false,
  CORRUPT_METADATA: false,
  IMPORT_INVALID: false,
  CLOSED: false,
  NOT_FOUND: false,
} as const satisfies Record<ErrorCode, boolean>;
