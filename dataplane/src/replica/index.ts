export { isReplicaError, ReplicaError, type ReplicaErrorCode } from './errors.js';
export { ExtentSet } from './extent-set.js';
export { type CreateOptions, Replica } from './replica.js';
export type * from './types.js';
export { BLOCK_SIZE } from './validate.js';
