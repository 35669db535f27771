export type { ReplicaTarget } from '../net/replica-address.js';
export { ReplicaServerAdmin } from './admin-client.js';
export { ReplicaClient, type ReplicaClientEvents, type ReplicaClientOptions } from './client.js';
export {
  FrameParser,
  HEADER_SIZE,
  MAGIC,
  MAX_DATA_LENGTH,
  MessageType,
  ProtocolError,
} from './codec.js';
export { errorFromWire, ReplicaRemoteError } from './remote-error.js';
export { type ReplicaEntryInfo, ReplicaServer, type ReplicaServerOptions } from './server.js';
export type { CreateReplicaOptions, ReplicaStoreFactory } from './store-factory.js';
