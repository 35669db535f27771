/**
 * The request/answer annotation pair the rotations share (kek-rotation.ts, data-key-rotation.ts):
 * a TOKEN in the request annotation is pending until the result annotation, JSON
 * {request, from, to, error, doneAt}, names that TOKEN.
 */

export interface RotationAnswer {
  /** The request's TOKEN. */
  request: string;
  /** Key ids before and after ('' when nothing was rotated). */
  from: string;
  to: string;
  /** '' when the rotation succeeded. */
  error: string;
  /** RFC 3339. */
  doneAt: string;
}

/** The TOKEN in `requestKey` not answered in `resultKey` yet, else undefined. */
export function pendingRequest(
  annotations: Readonly<Record<string, string>> | undefined,
  requestKey: string,
  resultKey: string,
): string | undefined {
  const request = annotations?.[requestKey]?.trim();
  if (!request) return undefined;
  return parseRotationAnswer(annotations?.[resultKey])?.request === request ? undefined : request;
}

/** A result annotation's answer; undefined when absent or not one. */
export function parseRotationAnswer(text: string | undefined): RotationAnswer | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as Partial<RotationAnswer>;
    return typeof v?.request === 'string' ? (v as RotationAnswer) : undefined;
  } catch {
    return undefined;
  }
}
