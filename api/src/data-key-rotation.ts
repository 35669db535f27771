/**
 * Data-key rotation on demand (a longhorn-ts extension; Longhorn has none): the annotation
 * `longhorn-ts.io/data-key-rotation-request: TOKEN` on an encrypted, attached Volume asks the
 * operator of its engine's node to replace the volume's data key and re-encrypt every block
 * online, in the background (progress in the Volume's `DataKeyRotation` condition). The answer
 * is `longhorn-ts.io/data-key-rotation-result`, JSON {request, from, to, error, doneAt} with the
 * data key ids (`dk-...`), written when the re-encryption is over; a new TOKEN asks again (one
 * asked while a rotation runs is answered when it finishes, with that rotation's keys).
 */

import { parseRotationAnswer, pendingRequest, type RotationAnswer } from './rotation-request.js';

export const DATA_KEY_ROTATION_REQUEST_ANNOTATION = 'longhorn-ts.io/data-key-rotation-request';
export const DATA_KEY_ROTATION_RESULT_ANNOTATION = 'longhorn-ts.io/data-key-rotation-result';
/**
 * Bytes per second the re-encryption may go at most (a plain integer; absent or 0: no limit),
 * read when a rotation is handed to the engine, which keeps it for a resumed job.
 */
export const DATA_KEY_ROTATION_BANDWIDTH_ANNOTATION = 'longhorn-ts.io/data-key-rotation-bandwidth';
/** The Volume condition that shows a rotation's progress (reason InProgress, Completed, Failed). */
export const DATA_KEY_ROTATION_CONDITION = 'DataKeyRotation';

/** The answer to a data-key rotation request: data key ids (dk-...) before and after. */
export type DataKeyRotationResult = RotationAnswer;

/** The TOKEN of a data-key rotation request not answered yet, else undefined. */
export function pendingDataKeyRotation(
  annotations: Readonly<Record<string, string>> | undefined,
): string | undefined {
  return pendingRequest(
    annotations,
    DATA_KEY_ROTATION_REQUEST_ANNOTATION,
    DATA_KEY_ROTATION_RESULT_ANNOTATION,
  );
}

export const parseDataKeyRotationResult: (text: string | undefined) => DataKeyRotationResult | undefined =
  parseRotationAnswer;

/** The bandwidth annotation's bytes per second (0: no limit), or why it is refused. */
export function dataKeyRotationBandwidth(
  annotations: Readonly<Record<string, string>> | undefined,
): number | { problem: string } {
  const text = annotations?.[DATA_KEY_ROTATION_BANDWIDTH_ANNOTATION]?.trim();
  if (!text) return 0;
  if (!/^\d{1,15}$/.test(text))
    return {
      problem: `annotation ${DATA_KEY_ROTATION_BANDWIDTH_ANNOTATION} "${text}" is not a number of bytes per second`,
    };
  return Number(text);
}
