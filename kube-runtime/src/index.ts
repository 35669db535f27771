export * from './backoff.js';
export * from './clock.js';
export * from './object-key.js';
export * from './resilient-informer.js';
