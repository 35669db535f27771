import { errorCodeOf, IS_REQUEST_ERROR } from '../block/error-codes.js';

/**
 * True when a replica refused the request itself (see IS_REQUEST_ERROR): the replica is healthy
 * and must not be ejected. Unknown codes count against the replica.
 */
export function isRequestError(err: unknown): boolean {
  const code = errorCodeOf(err);
  return code !== undefined && IS_REQUEST_ERROR[code];
}
