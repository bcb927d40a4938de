/** livemig's public entry: the codecs, the page cache and the error classes. */
export * from './codec/index.js';
export * from './cache/index.js';
export * from './errors.js';
