/**
 * Codes a replica answers when the request itself is wrong (a missing snapshot, a bad name, a
 * shrink): the replica is healthy and must not be ejected for them. Every other failure (I/O
 * errors, lost connections, corrupt metadata, unknown codes) counts against the replica.
 */
const REQUEST_ERROR_CODES: ReadonlySet<string> = new Set([
  'EINVAL',
  'EPERM',
  'ENOTSUP',
  'INVALID_ARGUMENT',
  'OUT_OF_RANGE',
  'INVALID_NAME',
  'SNAPSHOT_NOT_FOUND',
  'SNAPSHOT_EXISTS',
  'INVALID_LAYER',
  'SHRINK_NOT_ALLOWED',
  'INVALID_SIZE',
]);

export function isRequestError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && REQUEST_ERROR_CODES.has(code);
}
