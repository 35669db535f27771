import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** csi/proto/csi.proto, found the same way from src/ (vitest) and dist/ (compiled). */
export const CSI_PROTO = fileURLToPath(new URL('../../proto/csi.proto', import.meta.url));

/**
 * The options every reader of csi.proto uses: camelCase fields, int64 as numbers (volume sizes
 * stay far below 2^53), enums as their names, defaults filled in, and the name of the set
 * member of each oneof (`accessType: 'mount' | 'block'`).
 */
const LOAD_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

export interface CsiServices {
  Identity: grpc.ServiceClientConstructor;
  Controller: grpc.ServiceClientConstructor;
  Node: grpc.ServiceClientConstructor;
}

let loaded: CsiServices | undefined;

/** The CSI services of csi.proto, loaded once per process. */
export function csiServices(): CsiServices {
  if (loaded === undefined) {
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(CSI_PROTO, LOAD_OPTIONS));
    const v1 = (pkg.csi as grpc.GrpcObject).v1 as grpc.GrpcObject;
    loaded = {
      Identity: v1.Identity as grpc.ServiceClientConstructor,
      Controller: v1.Controller as grpc.ServiceClientConstructor,
      Node: v1.Node as grpc.ServiceClientConstructor,
    };
  }
  return loaded;
}

export { grpc };
