/**
 * RFC 6902 patch from two JSON values: the mutators edit a structuredClone and this says what
 * changed. Objects are compared key by key; arrays and scalars that differ are replaced whole,
 * which keeps patches valid whatever the API server's copy of an array looks like.
 */
import type { JsonPatchOperation } from './review.js';

/** `/` and `~` in a key as RFC 6901 escapes them. */
export function escapePointerToken(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    return keys.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** The operations that turn `before` into `after`. */
export function diffToPatch(before: unknown, after: unknown, path = ''): JsonPatchOperation[] {
  if (deepEqual(before, after)) return [];
  if (!isPlainObject(before) || !isPlainObject(after)) {
    return [{ op: 'replace', path, value: after }];
  }
  const ops: JsonPatchOperation[] = [];
  for (const key of Object.keys(before)) {
    const childPath = `${path}/${escapePointerToken(key)}`;
    if (!Object.hasOwn(after, key) || after[key] === undefined) {
      if (before[key] !== undefined) ops.push({ op: 'remove', path: childPath });
    } else {
      ops.push(...diffToPatch(before[key], after[key], childPath));
    }
  }
  for (const key of Object.keys(after)) {
    if (after[key] === undefined) continue;
    if (!Object.hasOwn(before, key) || before[key] === undefined) {
      ops.push({ op: 'add', path: `${path}/${escapePointerToken(key)}`, value: after[key] });
    }
  }
  return ops;
}

/** Applies a patch made by diffToPatch (for tests and the benchmark's checks). */
export function applyPatch<T>(document: T, patch: readonly JsonPatchOperation[]): T {
  let root: unknown = structuredClone(document);
  for (const op of patch) {
    if (op.path === '') {
      root = structuredClone(op.value);
      continue;
    }
    const tokens = op.path
      .slice(1)
      .split('/')
      .map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = tokens.pop() as string;
    let parent = root as Record<string, unknown>;
    for (const token of tokens) {
      const next = parent[token];
      if (!isPlainObject(next) && !Array.isArray(next)) throw new Error(`patch path ${op.path}: no ${token}`);
      parent = next as Record<string, unknown>;
    }
    if (op.op === 'remove') {
      if (!Object.hasOwn(parent, last)) throw new Error(`patch path ${op.path}: nothing to remove`);
      delete parent[last];
    } else {
      if (op.op === 'replace' && !Object.hasOwn(parent, last)) {
        throw new Error(`patch path ${op.path}: nothing to replace`);
      }
      parent[last] = structuredClone(op.value);
    }
  }
  return root as T;
}
