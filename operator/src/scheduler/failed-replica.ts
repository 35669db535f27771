/**
 * What a failed replica is still good for. A failed replica keeps its data directory, so while
 * it may come back (its node or disk was only down) it still counts for anti-affinity and it is
 * the first choice for a rebuild: only the difference has to be copied.
 */

/** Longhorn's FailedReplicaMaxRetryCount: after this many failed rebuilds a replica is given up. */
export const MAX_REBUILD_RETRIES = 5;

export interface FailedReplicaFacts {
  nodeID: string;
  diskID: string;
  /** spec.failedAt, '' while not failed. */
  failedAt: string;
  rebuildRetryCount: number;
  evictionRequested: boolean;
}

/** A failed replica that could be used again once its node and disk are back. */
export function isPotentiallyReusable(r: FailedReplicaFacts): boolean {
  return (
    r.failedAt !== '' &&
    r.nodeID !== '' &&
    r.diskID !== '' &&
    r.rebuildRetryCount < MAX_REBUILD_RETRIES &&
    !r.evictionRequested
  );
}

/** The replica that failed last (its data is the newest); ties to the first by name. */
export function latestFailed<T extends { name: string; failedAt: string }>(
  replicas: readonly T[],
): T | undefined {
  let best: T | undefined;
  let bestAt = Number.NEGATIVE_INFINITY;
  for (const r of [...replicas].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const at = Date.parse(r.failedAt);
    if (Number.isNaN(at)) continue;
    if (at > bestAt) {
      best = r;
      bestAt = at;
    }
  }
  return best;
}
