export { ByteQueue } from './byte-queue.js';
export type { ConnectionLimits } from './connection.js';
export * from './constants.js';
export { nbdErrnoOf } from './errno.js';
export {
  type ExportCatalog,
  encodeGreeting,
  encodeOptionReply,
  Handshake,
  type HandshakeStep,
  type NbdExport,
  parseInfoRequest,
  transmissionFlags,
} from './handshake.js';
export { encodeSimpleReply } from './replies.js';
export { RequestParser, type RequestStreamFault } from './request-parser.js';
export { NbdServer, type NbdServerOptions } from './server.js';
