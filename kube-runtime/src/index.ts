export * from './backoff.js';
export * from './bounded-kube-config.js';
export * from './clock.js';
export * from './object-key.js';
export * from './resilient-informer.js';
