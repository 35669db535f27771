import { BlockError, type BlockErrorCode } from '../block/block-error.js';
import type { ErrorCode } from '../block/error-codes.js';

const BLOCK_CODES = {
  EIO: true,
  EINVAL: true,
  ENOSPC: true,
  EPERM: true,
  ENOTSUP: true,
  ESHUTDOWN: true,
} as const satisfies Record<BlockErrorCode, true>;

function isBlockCode(code: string): code is BlockErrorCode {
  return Object.hasOwn(BLOCK_CODES, code);
}

/**
 * An error the replica server answered with whose code is not a block error code (for example
 * the replica store's own codes such as a missing layer). Block codes arrive as BlockError. The
 * code is kept as received, even one this side does not know (a newer server).
 */
export class ReplicaRemoteError extends Error {
  readonly code: ErrorCode | (string & {});
  constructor(code: string, message: string) {
    super(message);
    this.name = 'ReplicaRemoteError';
    this.code = code;
  }
}

/** The one place where an error code on the wire becomes an Error on the client side. */
export function errorFromWire(code: string, message: string): BlockError | ReplicaRemoteError {
  return isBlockCode(code) ? new BlockError(code, message) : new ReplicaRemoteError(code, message);
}

/** The one place where an error thrown by a store becomes a code on the wire. */
export function errorToWire(err: unknown): { code: string; message: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { code: typeof code === 'string' && code.length > 0 ? code : 'EIO', message: err.message };
  }
  return { code: 'EIO', message: String(err) };
}
