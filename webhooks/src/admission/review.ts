/**
 * AdmissionReview v1 as the API server sends and expects it, and the checks that turn an
 * untrusted request body into a typed request (or a message saying what is wrong with it).
 */

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
const OPERATIONS: readonly string[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

/** The object of a request as far as every rule may rely on it. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers?: string[];
    ownerReferences?: unknown[];
  };
  [key: string]: unknown;
}

export interface AdmissionRequest<T = KubeObject> {
  uid: string;
  kind: GroupVersionKind;
  operation: Operation;
  name?: string;
  namespace?: string;
  /** The object after the change (CREATE, UPDATE). */
  object?: T;
  /** The object before the change (UPDATE, DELETE). */
  oldObject?: T;
  dryRun?: boolean;
}

export interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace';
  path: string;
  value?: unknown;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string; reason?: string };
  warnings?: string[];
  patchType?: 'JSONPatch';
  /** Base64 of the JSON patch. */
  patch?: string;
}

export interface AdmissionReviewResponse {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

/** A body that is not an AdmissionReview we can answer: the server replies 400 with the message. */
export class BadReviewError extends Error {
  readonly code = 'BAD_ADMISSION_REVIEW';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The request inside an AdmissionReview body. Throws BadReviewError when the envelope itself is
 * wrong (no uid to answer to); a request we can answer but not judge is the validators' business.
 */
export function parseAdmissionReview(body: unknown): AdmissionRequest {
  if (!isRecord(body)) throw new BadReviewError('the body is not a JSON object; send an AdmissionReview');
  if (body.kind !== 'AdmissionReview') {
    throw new BadReviewError(`kind is ${JSON.stringify(body.kind)}; send an AdmissionReview`);
  }
  if (body.apiVersion !== ADMISSION_API_VERSION) {
    throw new BadReviewError(
      `apiVersion is ${JSON.stringify(body.apiVersion)}; only ${ADMISSION_API_VERSION} is served`,
    );
  }
  const request = body.request;
  if (!isRecord(request)) throw new BadReviewError('the AdmissionReview has no request object');
  if (typeof request.uid !== 'string' || request.uid === '') {
    throw new BadReviewError('request.uid is missing; the API server always sends one');
  }
  const kind = request.kind;
  if (
    !isRecord(kind) ||
    typeof kind.group !== 'string' ||
    typeof kind.version !== 'string' ||
    typeof kind.kind !== 'string'
  ) {
    throw new BadReviewError('request.kind must be {group, version, kind}');
  }
  if (typeof request.operation !== 'string' || !OPERATIONS.includes(request.operation)) {
    throw new BadReviewError(
      `request.operation ${JSON.stringify(request.operation)} is not one of ${OPERATIONS.join(', ')}`,
    );
  }
  const object = request.object;
  const oldObject = request.oldObject;
  if (object !== undefined && object !== null && !isRecord(object)) {
    throw new BadReviewError('request.object is not an object');
  }
  if (oldObject !== undefined && oldObject !== null && !isRecord(oldObject)) {
    throw new BadReviewError('request.oldObject is not an object');
  }
  return {
    uid: request.uid,
    kind: { group: kind.group, version: kind.version, kind: kind.kind },
    operation: request.operation as Operation,
    ...(typeof request.name === 'string' && { name: request.name }),
    ...(typeof request.namespace === 'string' && { namespace: request.namespace }),
    ...(isRecord(object) && { object: object as KubeObject }),
    ...(isRecord(oldObject) && { oldObject: oldObject as KubeObject }),
    ...(request.dryRun === true && { dryRun: true }),
  };
}

/** The uid of a body, when there is one, so even a refused review can be answered by uid. */
export function reviewUid(body: unknown): string | undefined {
  if (!isRecord(body) || !isRecord(body.request)) return undefined;
  const uid = body.request.uid;
  return typeof uid === 'string' && uid !== '' ? uid : undefined;
}

export function reviewResponse(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response };
}
