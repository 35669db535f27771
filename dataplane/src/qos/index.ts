export * from './limits.js';
export * from './qos-device.js';
export * from './qos-limiter.js';
