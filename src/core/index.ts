export * from './errors.js';
export * from './logger.js';
export * from './dtype.js';
export * from './float16.js';
export * from './random.js';
