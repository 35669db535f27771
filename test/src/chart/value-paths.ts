/** Dotted paths of the leaves of a values tree: scalars, arrays and empty maps are leaves. */
export function valueLeafPaths(tree: unknown, prefix = ''): string[] {
  if (tree === null || typeof tree !== 'object' || Array.isArray(tree)) return prefix ? [prefix] : [];
  const entries = Object.entries(tree as Record<string, unknown>);
  if (entries.length === 0) return prefix ? [prefix] : [];
  return entries.flatMap(([key, value]) => valueLeafPaths(value, prefix ? `${prefix}.${key}` : key));
}

/**
 * Leaf paths of `documented` that `given` does not reach: a documented map (e.g. nodeSelector: {})
 * counts as set when `given` has anything at or under its path.
 */
export function unsetPaths(documented: unknown, given: unknown): string[] {
  const set = valueLeafPaths(given);
  return valueLeafPaths(documented).filter((p) => !set.some((s) => s === p || s.startsWith(`${p}.`)));
}
