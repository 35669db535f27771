import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { type ErrorCode, errorCodeOf, isErrorCode } from '../block/error-codes.js';

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

/**
 * The one place where data-plane errors become gRPC status codes: one row per code (a new code
 * without a row does not compile). Errors without one of our codes are INTERNAL.
 */
export const GRPC_STATUS = {
  EIO: grpc.status.UNAVAILABLE,
  EINVAL: grpc.status.INVALID_ARGUMENT,
  ENOSPC: grpc.status.RESOURCE_EXHAUSTED,
  EPERM: grpc.status.FAILED_PRECONDITION,
  ENOTSUP: grpc.status.UNIMPLEMENTED,
  ESHUTDOWN: grpc.status.UNAVAILABLE,
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  OUT_OF_RANGE: grpc.status.OUT_OF_RANGE,
  INVALID_NAME: grpc.status.INVALID_ARGUMENT,
  SNAPSHOT_NOT_FOUND: grpc.status.NOT_FOUND,
  SNAPSHOT_EXISTS: grpc.status.ALREADY_EXISTS,
  INVALID_LAYER: grpc.status.FAILED_PRECONDITION,
  SHRINK_NOT_ALLOWED: grpc.status.INVALID_ARGUMENT,
  INVALID_SIZE: grpc.status.INVALID_ARGUMENT,
  NOT_A_REPLICA: grpc.status.FAILED_PRECONDITION,
  UNSUPPORTED_FILESYSTEM: grpc.status.FAILED_PRECONDITION,
  BUSY: grpc.status.ABORTED,
  ALREADY_EXISTS: grpc.status.ALREADY_EXISTS,
  CORRUPT_METADATA: grpc.status.DATA_LOSS,
  IMPORT_INVALID: grpc.status.FAILED_PRECONDITION,
  CLOSED: grpc.status.UNAVAILABLE,
  NOT_FOUND: grpc.status.NOT_FOUND,
} as const satisfies Record<ErrorCode, grpc.status>;

export function toGrpcError(err: unknown): grpc.ServiceError {
  const message = err instanceof Error ? err.message : String(err);
  const code = errorCodeOf(err);
  const status = code ? GRPC_STATUS[code] : grpc.status.INTERNAL;
  const metadata = new grpc.Metadata();
  if (code) metadata.set(CODE_METADATA, code);
  return Object.assign(new Error(message), { code: status, details: message, metadata });
}

/** Carries the data-plane code beside the gRPC status, so clients keep the code that was sent. */
const CODE_METADATA = 'x-longhorn-code';

/** A failed call: `code` is the data-plane code the server sent (if any), `status` the gRPC one. */
export class RemoteCallError extends Error {
  readonly code: ErrorCode | undefined;
  readonly status: grpc.status;
  constructor(message: string, status: grpc.status, code: ErrorCode | undefined) {
    super(message);
    this.name = 'RemoteCallError';
    this.status = status;
    this.code = code;
  }
}

function fromServiceError(err: grpc.ServiceError): RemoteCallError {
  const sent = err.metadata?.get(CODE_METADATA)[0];
  return new RemoteCallError(err.details || err.message, err.code, isErrorCode(sent) ? sent : undefined);
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
      err ? reject(fromServiceError(err)) : resolve(res),
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
