/**
 * Equality of two JSON values regardless of key order: the API server hands objects back with
 * their keys sorted, a controller builds them in its own order, and a status that did not
 * change must not be written again (each write is an event that brings the key back).
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const field = (v as Record<string, unknown>)[k];
      if (field !== undefined) sorted[k] = field;
    }
    return sorted;
  });
}

export function sameJson(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
