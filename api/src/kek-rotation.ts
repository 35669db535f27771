/**
 * Key-encryption-key rotation on demand (a longhorn-ts extension; Longhorn has none): the
 * annotation `longhorn-ts.io/kek-rotation-request: TOKEN` on an encrypted Volume asks its owner's
 * operator to re-wrap the volume's data key with a new KEK from its crypto Secret (no data is
 * touched; a running engine keeps going, the next start uses the new wrap). The answer is
 * `longhorn-ts.io/kek-rotation-result`, JSON {request, from, to, error, doneAt}; a new TOKEN asks
 * again. To change the Secret's passphrase (or KMS key): put the new one in CRYPTO_KEY_VALUE
 * (KMS_KEY_ID) and the old one in CRYPTO_PREVIOUS_KEY_VALUE (KMS_PREVIOUS_KEY_ID), then request.
 */

import { parseRotationAnswer, pendingRequest, type RotationAnswer } from './rotation-request.js';

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

/** The answer to a KEK rotation request: key ids (kek-...) before and after. */
export type KekRotationResult = RotationAnswer;

/** The TOKEN of a request not answered yet, else undefined. */
export function pendingRotation(
  annotations: Readonly<Record<string, string>> | undefined,
): string | undefined {
  return pendingRequest(annotations, KEK_ROTATION_REQUEST_ANNOTATION, KEK_ROTATION_RESULT_ANNOTATION);
}

export const parseRotationResult: (text: string | undefined) => KekRotationResult | undefined =
  parseRotationAnswer;
