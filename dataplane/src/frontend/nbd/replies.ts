import { NBD_SIMPLE_REPLY_MAGIC, SIMPLE_REPLY_SIZE } from './constants.js';

/**
 * Encodes a simple reply header (magic, error, handle). For a successful READ the data follows
 * as a separate buffer, written after it without copying.
 */
export function encodeSimpleReply(error: number, handleHi: number, handleLo: number): Buffer {
  // allocUnsafe takes small buffers from Node's shared pool: no syscall, no zeroing.
  const out = Buffer.allocUnsafe(SIMPLE_REPLY_SIZE);
  out.writeUInt32BE(NBD_SIMPLE_REPLY_MAGIC, 0);
  out.writeUInt32BE(error, 4);
  out.writeUInt32BE(handleHi, 8);
  out.writeUInt32BE(handleLo, 12);
  return out;
}
