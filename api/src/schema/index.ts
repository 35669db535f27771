export * from './builders.js';
export * from './crd.js';
export * from './json-schema.js';
export * from './schema-match.js';
export * from './structural.js';
