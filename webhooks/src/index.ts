/** Admission webhooks for longhorn.io resources (control plane: webhooks). */
export * from './admission/context.js';
export * from './admission/json-patch.js';
export * from './admission/review.js';
export * from './admission/verdict.js';
export * from './admit.js';
export * from './configurations.js';
export * from './kinds.js';
export { MUTATORS } from './mutators/index.js';
export { VALIDATORS } from './validators/index.js';
