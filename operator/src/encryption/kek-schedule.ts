/**
 * When a scheduled key-encryption-key rotation falls due (the Volume annotation
 * `longhorn-ts.io/kek-rotation-interval`, api/src/kek-rotation.ts). Pure: the controller asks
 * with the Volume's annotations, its creation time and the clock.
 *
 * The interval counts from the last answer, else from the creation. A rotation that failed (a
 * Secret being changed at that moment, a KMS outage) is tried again after at most 5 minutes,
 * not a whole interval later.
 */

import {
  KEK_ROTATION_INTERVAL_ANNOTATION,
  KEK_ROTATION_RESULT_ANNOTATION,
  KEK_ROTATION_SCHEDULED_RESULT_ANNOTATION,
  type KekRotationResult,
  parseRotationResult,
} from '@longhorn-ts/api';
import { parseGoDuration } from '../backup/go-duration.js';

/** Shorter intervals are refused: each rotation is a KDF run or a KMS call, and an Event. */
export const MIN_KEK_ROTATION_INTERVAL_MS = 1_000;
/** A failed scheduled rotation is tried again this soon (or one interval later, if shorter). */
export const KEK_ROTATION_RETRY_MS = 300_000;

export type KekSchedule =
  | { kind: 'none' }
  | { kind: 'invalid'; message: string }
  | { kind: 'due'; token: string }
  | { kind: 'later'; inMs: number };

export function kekSchedule(
  annotations: Readonly<Record<string, string>> | undefined,
  createdAt: string | undefined,
  now: number,
): KekSchedule {
  const text = annotations?.[KEK_ROTATION_INTERVAL_ANNOTATION]?.trim();
  if (!text) return { kind: 'none' };
  let interval: number;
  try {
    interval = parseGoDuration(text);
  } catch (err) {
    return { kind: 'invalid', message: `${KEK_ROTATION_INTERVAL_ANNOTATION}: ${(err as Error).message}` };
  }
  if (interval < MIN_KEK_ROTATION_INTERVAL_MS)
    return {
      kind: 'invalid',
      message: `${KEK_ROTATION_INTERVAL_ANNOTATION} ${JSON.stringify(text)} is shorter than ${MIN_KEK_ROTATION_INTERVAL_MS / 1000} s`,
    };
  // The newer of the two answers (an on-demand rotation restarts the interval too).
  const answers = [KEK_ROTATION_RESULT_ANNOTATION, KEK_ROTATION_SCHEDULED_RESULT_ANNOTATION]
    .map((a) => parseRotationResult(annotations?.[a]))
    .filter((r): r is KekRotationResult => r !== undefined && !Number.isNaN(Date.parse(r.doneAt)));
  const last = answers.sort((a, b) => Date.parse(b.doneAt) - Date.parse(a.doneAt))[0];
  const since = Date.parse(last?.doneAt || createdAt || '');
  const wait = last?.error ? Math.min(interval, KEK_ROTATION_RETRY_MS) : interval;
  const dueAt = Number.isNaN(since) ? now : since + wait;
  if (dueAt > now) return { kind: 'later', inMs: dueAt - now };
  return { kind: 'due', token: `scheduled-${new Date(dueAt).toISOString()}` };
}
