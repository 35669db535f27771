/**
 * A mutator edits a structuredClone of the object in place; the dispatcher diffs the clone
 * against the original into a JSON patch. A mutator may also return warnings.
 */
import type { AdmissionContext } from '../admission/context.js';
import type { Operation } from '../admission/review.js';

export interface MutatorInput<T> {
  operation: Operation;
  /** The clone to edit. */
  object: T;
  old: T | undefined;
  ctx: AdmissionContext;
}

/** Returns warnings, if any. */
export type Mutator<T> = (input: MutatorInput<T>) => string[] | undefined;

/** Sets `target[key]` when it is undefined, null or "" (or 0 with `zeroIsUnset`). */
export function fillDefault<T extends object, K extends keyof T>(
  target: T,
  key: K,
  value: T[K],
  zeroIsUnset = false,
): void {
  const current = target[key] as unknown;
  if (current === undefined || current === null || current === '' || (zeroIsUnset && current === 0)) {
    target[key] = value;
  }
}

/** Adds labels, replacing a different value under the same key. */
export function setLabels(
  metadata: { labels?: Record<string, string> },
  labels: Record<string, string>,
): void {
  metadata.labels = { ...(metadata.labels ?? {}), ...labels };
}

/** Unique values in first-seen order. */
export function dedupe(values: readonly string[]): string[] {
  return [...new Set(values)];
}
