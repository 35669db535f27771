import { BlockError, type BlockErrorCode } from '../../block/block-error.js';
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
 * The one place where a failure of the device becomes an NBD errno. BlockError codes map one
 * to one; Node system errors (a plain-file device lets fs errors through) map by their code,
 * with EDQUOT and EFBIG as ENOSPC as the spec asks; anything else is EIO.
 */
const BY_CODE: Readonly<Record<string, number>> = {
  EPERM: NBD_EPERM,
  EACCES: NBD_EPERM,
  EROFS: NBD_EPERM,
  EIO: NBD_EIO,
  ENOMEM: NBD_ENOMEM,
  EINVAL: NBD_EINVAL,
  ENOSPC: NBD_ENOSPC,
  EDQUOT: NBD_ENOSPC,
  EFBIG: NBD_ENOSPC,
  EOVERFLOW: NBD_EOVERFLOW,
  ENOTSUP: NBD_ENOTSUP,
  EOPNOTSUPP: NBD_ENOTSUP,
  ESHUTDOWN: NBD_ESHUTDOWN,
} satisfies Record<BlockErrorCode, number> & Record<string, number>;

export function nbdErrnoOf(err: unknown): number {
  if (err instanceof BlockError) return BY_CODE[err.code] ?? NBD_EIO;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return BY_CODE[code] ?? NBD_EIO;
  return NBD_EIO;
}
