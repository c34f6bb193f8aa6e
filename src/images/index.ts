/** Images stage: registry client, reproducible layers, the append builder and the requirements builder. */
export * from './ref.js';
export * from './credentials.js';
export * from './registry.js';
export * from './layer.js';
export * from './append.js';
export * from './requirements.js';
export * from './build.js';
