/** What a validator decides, and what a mutator hands back. */
import type { JsonPatchOperation } from './review.js';

export interface Verdict {
  allowed: boolean;
  /** Why it was denied and what to change; empty when allowed. */
  message?: string;
  /** HTTP-like status code of a denial: 400 invalid, 403 not now (state), 500 our fault. */
  code?: number;
  /** Shown to the user (kubectl prints them) also when allowed. */
  warnings: string[];
}

export function allow(warnings: string[] = []): Verdict {
  return { allowed: true, warnings };
}

export function deny(message: string, code = 400, warnings: string[] = []): Verdict {
  return { allowed: false, message, code, warnings };
}

export interface MutationResult {
  /** A denial when the object cannot be completed (e.g. a broken size). */
  verdict: Verdict;
  patch: JsonPatchOperation[];
}
