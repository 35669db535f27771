/** The operator's public face: pure decision logic, and the generic controller runtime. */

export * from '@longhorn-ts/kube-runtime';
export * from './conditions.js';
export * from './logging.js';
export * from './ownership.js';
export * from './runtime/api-errors.js';
export * from './runtime/status-writer.js';
export * from './runtime/work-queue.js';
export * from './scheduler/balance-score.js';
export * from './scheduler/disk-fit.js';
export * from './scheduler/failed-replica.js';
export * from './scheduler/replica-scheduler.js';
export * from './scheduler/tag-match.js';
export * from './volume/attachment-tickets.js';
export * from './volume/volume-model.js';
export { next as nextVolumeState } from './volume/volume-state.js';
