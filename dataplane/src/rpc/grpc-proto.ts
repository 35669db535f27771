import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { BlockError } from '../block/block-error.js';

/** The folder of .proto files, found the same way from src/ (tsx) and dist/ (compiled). */
const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));

/** Loads a service definition from dataplane/proto by file and dotted service name. */
export function loadService(file: string, service: string): grpc.ServiceClientConstructor {
  const def = protoLoader.loadSync(PROTO_DIR + file, {
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def);
  let node: unknown = pkg;
  for (const part of service.split('.')) node = (node as Record<string, unknown>)[part];
  if (typeof node !== 'function') throw new Error(`service ${service} not found in ${file}`);
  return node as grpc.ServiceClientConstructor;
}

/** The one place where data-plane errors become gRPC status codes. */
export function toGrpcError(err: unknown): grpc.ServiceError {
  const message = err instanceof Error ? err.message : String(err);
  let code = grpc.status.INTERNAL;
  const errCode = (err as { code?: unknown })?.code;
  if (err instanceof BlockError || typeof errCode === 'string') {
    switch (errCode) {
      case 'EINVAL':
        code = grpc.status.INVALID_ARGUMENT;
        break;
      case 'ENOENT':
      case 'NOT_FOUND':
        code = grpc.status.NOT_FOUND;
        break;
      case 'EEXIST':
      case 'ALREADY_EXISTS':
        code = grpc.status.ALREADY_EXISTS;
        break;
      case 'EPERM':
      case 'EBUSY':
        code = grpc.status.FAILED_PRECONDITION;
        break;
      case 'ENOSPC':
        code = grpc.status.RESOURCE_EXHAUSTED;
        break;
      case 'EIO':
      case 'ESHUTDOWN':
        code = grpc.status.UNAVAILABLE;
        break;
      default: {
        const c = String(errCode);
        if (c.endsWith('NOT_FOUND')) code = grpc.status.NOT_FOUND;
        else if (c.endsWith('EXISTS')) code = grpc.status.ALREADY_EXISTS;
        else if (c.startsWith('INVALID') || c === 'OUT_OF_RANGE' || c === 'SHRINK_NOT_ALLOWED') {
          code = grpc.status.INVALID_ARGUMENT;
        } else if (/^[A-Z_]+$/.test(c)) code = grpc.status.FAILED_PRECONDITION;
      }
    }
  }
  return Object.assign(new Error(message), { code, details: message, metadata: new grpc.Metadata() });
}

/** Wraps an async handler: one edge where results and errors become gRPC callbacks. */
export function unary<Req, Res>(
  fn: (req: Req) => Promise<Res>,
): (call: grpc.ServerUnaryCall<Req, Res>, cb: grpc.sendUnaryData<Res>) => void {
  return (call, cb) => {
    fn(call.request).then(
      (res) => cb(null, res),
      (err) => cb(toGrpcError(err)),
    );
  };
}

/** Calls a unary method of a grpc-js dynamic client as a promise. */
export function callUnary<Res>(
  client: grpc.Client,
  method: string,
  req: unknown,
  deadlineMs = 30_000,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, (...a: unknown[]) => void>)[method];
    if (!fn) {
      reject(new Error(`no gRPC method ${method}`));
      return;
    }
    fn.call(client, req, { deadline: Date.now() + deadlineMs }, (err: grpc.ServiceError | null, res: Res) =>
      err ? reject(new Error(err.details || err.message)) : resolve(res),
    );
  });
}

/** Binds a gRPC server to host:port (0 picks a free port) and returns the bound port. */
export function bindServer(server: grpc.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    );
  });
}

export { grpc };
