/**
 * An error on the block path with a stable code. The NBD frontend maps `code` to an NBD errno
 * at exactly one place; the replica protocol carries it as a string.
 */
import type { ErrorCode } from './error-codes.js';

/** The errno-like subset of the data plane's codes (error-codes.ts). */
export type BlockErrorCode = Extract<
  ErrorCode,
  'EIO' | 'EINVAL' | 'ENOSPC' | 'EPERM' | 'ENOTSUP' | 'ESHUTDOWN'
>;

export class BlockError extends Error {
  readonly code: BlockErrorCode;
  constructor(code: BlockErrorCode, message: string) {
    super(message);
    this.name = 'BlockError';
    this.code = code;
  }
}
