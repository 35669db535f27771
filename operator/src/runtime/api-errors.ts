/**
 * Kubernetes API failures as the operator handles them: the one place an HTTP status from
 * the API server becomes a typed error. A Conflict (409: the object changed since it was read)
 * means "read again and retry": the work queue requeues the key.
 */

export type ApiErrorCode = 'CONFLICT' | 'NOT_FOUND' | 'API_ERROR';

export interface ObjectRef {
  kind: string;
  namespace: string;
  name: string;
}

export class ApiCallError extends Error {
  readonly code: ApiErrorCode;
  readonly ref: ObjectRef;
  /** HTTP status, when the API server answered. */
  readonly status: number | undefined;

  constructor(code: ApiErrorCode, ref: ObjectRef, message: string, status?: number, cause?: unknown) {
    super(`${ref.kind} ${ref.namespace}/${ref.name}: ${message}`, { cause });
    this.name = 'ApiCallError';
    this.code = code;
    this.ref = ref;
    this.status = status;
  }
}

export class ConflictError extends ApiCallError {
  constructor(ref: ObjectRef, message: string, cause?: unknown) {
    super('CONFLICT', ref, message, 409, cause);
    this.name = 'ConflictError';
  }
}

export class NotFoundError extends ApiCallError {
  constructor(ref: ObjectRef, message: string, cause?: unknown) {
    super('NOT_FOUND', ref, message, 404, cause);
    this.name = 'NotFoundError';
  }
}

/** client-node 1.x throws ApiException {code, body}; fetch failures have no code. */
function httpStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'number') return code;
  const statusCode = (err as { statusCode?: unknown }).statusCode;
  return typeof statusCode === 'number' ? statusCode : undefined;
}

function serverMessage(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const body = (err as { body?: unknown }).body;
    if (typeof body === 'string') {
      try {
        const parsed = JSON.parse(body) as { message?: unknown };
        if (typeof parsed.message === 'string') return parsed.message;
      } catch {
        return body;
      }
    }
    if (
      typeof body === 'object' &&
      body !== null &&
      typeof (body as { message?: unknown }).message === 'string'
    ) {
      return (body as { message: string }).message;
    }
  }
  return err instanceof Error ? err.message : String(err);
}

export function toApiCallError(err: unknown, ref: ObjectRef, action: string): ApiCallError {
  if (err instanceof ApiCallError) return err;
  const status = httpStatus(err);
  const message = `${action}: ${serverMessage(err)}`;
  if (status === 409) return new ConflictError(ref, message, err);
  if (status === 404) return new NotFoundError(ref, message, err);
  return new ApiCallError('API_ERROR', ref, message, status, err);
}

export function isConflict(err: unknown): err is ConflictError {
  return err instanceof ApiCallError && err.code === 'CONFLICT';
}
