export * from './block/index.js';
export * from './replica/index.js';
