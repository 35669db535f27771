/**
 * The shape every rule file shares: a rule looks at the new object (and the old one on UPDATE)
 * and returns a denial message, or nothing. The first message denies the request.
 */
import type { AdmissionContext } from '../admission/context.js';
import type { Operation } from '../admission/review.js';

export interface RuleInput<T> {
  operation: Operation;
  object: T;
  /** Only on UPDATE. */
  old: T | undefined;
  ctx: AdmissionContext;
}

export type Rule<T> = (input: RuleInput<T>) => string | undefined;

export function firstDenial<T>(rules: readonly Rule<T>[], input: RuleInput<T>): string | undefined {
  for (const rule of rules) {
    const message = rule(input);
    if (message !== undefined) return message;
  }
  return undefined;
}

/** `spec.x "v" is not valid; use one of a, b or c`, when v is set and not in the list. */
export function enumProblem(
  field: string,
  value: unknown,
  choices: readonly string[],
  allowEmpty = false,
): string | undefined {
  if (value === undefined || (allowEmpty && value === '')) return undefined;
  if (typeof value === 'string' && choices.includes(value)) return undefined;
  return `${field} ${JSON.stringify(value)} is not valid; use one of ${listOf(choices)}`;
}

/** `a, b or c`. */
export function listOf(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

export function show(value: unknown): string {
  return value === undefined ? '(unset)' : JSON.stringify(value);
}

/** Go's time.ParseDuration grammar (`90s`, `1h30m`, `-5m`). */
export const GO_DURATION = /^[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$|^0$/;

export function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}
