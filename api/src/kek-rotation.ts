/**
 * Key-encryption-key rotation on demand (a longhorn-ts extension; Longhorn has none): the
 * annotation `longhorn-ts.io/kek-rotation-request: TOKEN` on an encrypted Volume asks its owner's
 * operator to re-wrap the volume's data key with a new KEK from its crypto Secret (no data is
 * touched; a running engine keeps going, the next start uses the new wrap). The answer is
 * `longhorn-ts.io/kek-rotation-result`, JSON {request, from, to, error, doneAt}; a new TOKEN asks
 * again. To change the Secret's passphrase (or KMS key): put the new one in CRYPTO_KEY_VALUE
 * (KMS_KEY_ID) and the old one in CRYPTO_PREVIOUS_KEY_VALUE (KMS_PREVIOUS_KEY_ID), then request.
 */

export const KEK_ROTATION_REQUEST_ANNOTATION = 'longhorn-ts.io/kek-rotation-request';
/**
 * Scheduled rotation: a Go duration (`720h`, `24h0m0s`); the owner's operator rotates when that
 * long has passed since the last rotation's answer, scheduled or not (or the Volume's creation),
 * with a TOKEN of its own (`scheduled-<time it fell due>`), answered in the scheduled result
 * annotation (the on-demand result stays the answer to the on-demand request).
 */
export const KEK_ROTATION_INTERVAL_ANNOTATION = 'longhorn-ts.io/kek-rotation-interval';
export const KEK_ROTATION_SCHEDULED_RESULT_ANNOTATION = 'longhorn-ts.io/kek-rotation-scheduled-result';
export const KEK_ROTATION_RESULT_ANNOTATION = 'longhorn-ts.io/kek-rotation-result';

export interface KekRotationResult {
  /** The request's TOKEN. */
  request: string;
  /** Key ids before and after ('' when the rotation failed). */
  from: string;
  to: string;
  /** '' when the data key was re-wrapped. */
  error: string;
  /** RFC 3339. */
  doneAt: string;
}

/** The TOKEN of a request not answered yet, else undefined. */
export function pendingRotation(
  annotations: Readonly<Record<string, string>> | undefined,
): string | undefined {
  const request = annotations?.[KEK_ROTATION_REQUEST_ANNOTATION]?.trim();
  if (!request) return undefined;
  const result = parseRotationResult(annotations?.[KEK_ROTATION_RESULT_ANNOTATION]);
  return result?.request === request ? undefined : request;
}

export function parseRotationResult(text: string | undefined): KekRotationResult | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as Partial<KekRotationResult>;
    return typeof v?.request === 'string' ? (v as KekRotationResult) : undefined;
  } catch {
    return undefined;
  }
}
