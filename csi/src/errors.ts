import * as grpc from '@grpc/grpc-js';
import { ERROR_CODES, errorCodeOf } from '@longhorn-ts/dataplane/block/error-codes';
import { GRPC_STATUS as DATA_PLANE_GRPC_STATUS } from '@longhorn-ts/dataplane/rpc/grpc-proto';

/**
 * The repository's error codes (the data plane's union) plus the few only a control-plane edge
 * needs. Every error a CSI handler throws carries one; the edge maps it with the one table below.
 */
export const CSI_ERROR_CODES = [
  ...ERROR_CODES,
  'FAILED_PRECONDITION',
  'RESOURCE_EXHAUSTED',
  'DEADLINE_EXCEEDED',
  'UNIMPLEMENTED',
  'UNAVAILABLE',
  'INTERNAL',
  // A paging token this driver did not hand out (the CSI spec's answer is ABORTED).
  'INVALID_TOKEN',
] as const;
export type CsiErrorCode = (typeof CSI_ERROR_CODES)[number];

/**
 * The one place an error becomes a gRPC status. A code without a row does not compile. `BUSY`
 * (another operation on the volume is under way) is ABORTED: the sidecars retry it.
 */
export const GRPC_STATUS = {
  // The data plane's rows, from its one table; then the control-plane codes.
  ...DATA_PLANE_GRPC_STATUS,
  FAILED_PRECONDITION: grpc.status.FAILED_PRECONDITION,
  RESOURCE_EXHAUSTED: grpc.status.RESOURCE_EXHAUSTED,
  DEADLINE_EXCEEDED: grpc.status.DEADLINE_EXCEEDED,
  UNIMPLEMENTED: grpc.status.UNIMPLEMENTED,
  UNAVAILABLE: grpc.status.UNAVAILABLE,
  INTERNAL: grpc.status.INTERNAL,
  INVALID_TOKEN: grpc.status.ABORTED,
} as const satisfies Record<CsiErrorCode, grpc.status>;

/** An error a handler means: a stable code and a message that names the problem. */
export class CsiError extends Error {
  constructor(
    readonly code: CsiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CsiError';
  }
}

/** Shorthands for the handlers' most common refusals. */
export const invalid = (message: string) => new CsiError('INVALID_ARGUMENT', message);
export const notFound = (message: string) => new CsiError('NOT_FOUND', message);
export const precondition = (message: string) => new CsiError('FAILED_PRECONDITION', message);

/** Throws INVALID_ARGUMENT naming `field` when it is empty. */
export function required<T>(value: T | null | undefined | '', field: string): T {
  if (value === undefined || value === null || value === '') throw invalid(`${field} is required`);
  if (Array.isArray(value) && value.length === 0) throw invalid(`${field} is required (empty list)`);
  return value;
}

/** The code of any error: ours, a data-plane one, else INTERNAL. */
export function codeOf(err: unknown): CsiErrorCode {
  if (err instanceof CsiError) return err.code;
  return errorCodeOf(err) ?? 'INTERNAL';
}

export function toServiceError(err: unknown): Partial<grpc.ServiceError> {
  const message = err instanceof Error ? err.message : String(err);
  return { code: GRPC_STATUS[codeOf(err)], details: message, message };
}
