/**
 * "Most balanced" placement as Longhorn scores it: place the replica, hypothetically, on each
 * candidate in turn and keep the one after which the usable bytes of all candidates are the
 * least spread out, spread being (max - min) / mean (Longhorn's absolute imbalance; its
 * ratio-based variant is switched off there too). A candidate whose usable bytes are below the
 * replica's size is not tried.
 *
 * Longhorn iterates Go maps here, so ties go to whichever comes first at random; we walk the
 * candidates in the given order and keep the first of equal scores, so placement is
 * deterministic when the caller sorts its candidates.
 */

export interface UsableBytes {
  id: string;
  usable: number;
}

export function imbalance(usable: readonly number[]): number {
  if (usable.length === 0) return Number.POSITIVE_INFINITY;
  let sum = 0;
  let max = Number.NEGATIVE_INFINITY;
  let min = Number.POSITIVE_INFINITY;
  for (const u of usable) {
    sum += u;
    if (u > max) max = u;
    if (u < min) min = u;
  }
  const mean = sum / usable.length;
  // Everything full: the spread means nothing, and such a placement must not win.
  if (mean <= 0) return Number.POSITIVE_INFINITY;
  return (max - min) / mean;
}

/**
 * The id whose hypothetical use leaves the least imbalance over all candidates, or undefined if
 * none can hold `size`. `tryOnly` limits which candidates may be picked (a disk on the chosen
 * node) while every candidate still counts in the spread, as Longhorn scores disks.
 */
export function mostBalanced(
  candidates: readonly UsableBytes[],
  size: number,
  tryOnly: (id: string) => boolean = () => true,
): string | undefined {
  const values = candidates.map((c) => c.usable);
  let best: string | undefined;
  let bestScore = Number.POSITIVE_INFINITY;
  candidates.forEach((c, i) => {
    if (c.usable < size || !tryOnly(c.id)) return;
    values[i] = c.usable - size;
    const score = imbalance(values);
    values[i] = c.usable;
    if (score < bestScore) {
      bestScore = score;
      best = c.id;
    }
  });
  return best;
}
