/** kubectl longhorn (the kubectl plugin): the entry and the pure parts, for tests and reuse. */
export { normalizeArgv } from './argv.js';
export { ERROR_CODES, EXIT_CODES, exitFor, PluginError } from './errors.js';
export { main } from './main.js';
export * from './output/format.js';
export { renderBar } from './output/progress.js';
export * from './render/snapshot-tree.js';
export * from './render/volume.js';
