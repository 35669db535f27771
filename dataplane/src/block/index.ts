export type { BlockDevice } from './block-device.js';
export { BlockError, type BlockErrorCode } from './block-error.js';
