export type { BlockDevice, FileSpan } from './block-device.js';
export { BlockError, type BlockErrorCode } from './block-error.js';
export { ERROR_CODES, type ErrorCode, errorCodeOf, isErrorCode } from './error-codes.js';
