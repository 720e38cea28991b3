// sealpost/wire: the frame codec and protocol constants (spec/protocol.md).
export * from './constants.js';
export * from './errors.js';
export * from './frames.js';
export * from './address.js';
export * from './bytes-codec.js';
