export * from './attribute.js';
export * from './graph.js';
export * from './model.js';
export * from './node.js';
export * from './tensor.js';
export * from './traversal.js';
export * from './value.js';
