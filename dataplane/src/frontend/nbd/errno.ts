import { type ErrorCode, errorCodeOf } from '../../block/error-codes.js';
import {
  NBD_EINVAL,
  NBD_EIO,
  NBD_ENOMEM,
  NBD_ENOSPC,
  NBD_ENOTSUP,
  NBD_EOVERFLOW,
  NBD_EPERM,
  NBD_ESHUTDOWN,
} from './constants.js';

/**
 * The one place where a failure of the device becomes an NBD errno: every data-plane code has
 * a row (a new code without one does not compile). Node system errors (a plain-file device lets
 * fs errors through) map by their code, with EDQUOT and EFBIG as ENOSPC as the spec asks;
 * anything else is EIO.
 */
const BY_CODE = {
  EIO: NBD_EIO,
  EINVAL: NBD_EINVAL,
  ENOSPC: NBD_ENOSPC,
  EPERM: NBD_EPERM,
  ENOTSUP: NBD_ENOTSUP,
  ESHUTDOWN: NBD_ESHUTDOWN,
  INVALID_ARGUMENT: NBD_EINVAL,
  OUT_OF_RANGE: NBD_EINVAL,
  INVALID_NAME: NBD_EINVAL,
  SNAPSHOT_NOT_FOUND: NBD_EINVAL,
  SNAPSHOT_EXISTS: NBD_EINVAL,
  INVALID_LAYER: NBD_EINVAL,
  SHRINK_NOT_ALLOWED: NBD_EINVAL,
  INVALID_SIZE: NBD_EINVAL,
  NOT_A_REPLICA: NBD_EIO,
  UNSUPPORTED_FILESYSTEM: NBD_ENOTSUP,
  BUSY: NBD_EIO,
  ALREADY_EXISTS: NBD_EINVAL,
  CORRUPT_METADATA: NBD_EIO,
  IMPORT_INVALID: NBD_EINVAL,
  CLOSED: NBD_ESHUTDOWN,
  NOT_FOUND: NBD_EINVAL,
} as const satisfies Record<ErrorCode, number>;

const BY_SYSTEM_CODE: Readonly<Record<string, number>> = {
  EACCES: NBD_EPERM,
  EROFS: NBD_EPERM,
  ENOMEM: NBD_ENOMEM,
  EDQUOT: NBD_ENOSPC,
  EFBIG: NBD_ENOSPC,
  EOVERFLOW: NBD_EOVERFLOW,
  EOPNOTSUPP: NBD_ENOTSUP,
};

export function nbdErrnoOf(err: unknown): number {
  const code = errorCodeOf(err);
  if (code) return BY_CODE[code];
  const other = (err as { code?: unknown } | null)?.code;
  return (typeof other === 'string' && BY_SYSTEM_CODE[other]) || NBD_EIO;
}
