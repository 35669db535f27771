/**
 * Node and disk tag selectors: every selector tag must be among the object's tags. An empty
 * selector matches untagged objects always, and tagged ones only when the Settings
 * allow-empty-node-selector-volume / allow-empty-disk-selector-volume are true (their default),
 * so tagging a node can reserve it for volumes that ask for the tag.
 */
export function tagsSatisfy(
  tags: readonly string[],
  selector: readonly string[],
  allowEmptySelector = true,
): boolean {
  if (selector.length === 0) return allowEmptySelector || tags.length === 0;
  const have = new Set(tags);
  return selector.every((tag) => have.has(tag));
}
