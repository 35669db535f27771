import type { ReplicaInfo } from '../replica/types.js';

export interface StartupCandidate {
  id: string;
  info: ReplicaInfo;
}

export interface StartupChoice {
  /** Replicas holding the newest data, to serve reads (RW). */
  current: string[];
  /** Replicas whose generation is behind: never read from; rebuilt or rejected. */
  stale: string[];
  /**
   * True when the last engine did not stop cleanly (the newest generation is odd: engines keep
   * it odd while serving and make it even on a clean stop). Writes in flight at the crash may
   * have reached some current replicas and not others, so only one of them (the first in
   * `current`) may serve until the others are reconciled by a rebuild. The store's own dirty
   * flag is not used: it says the replica server stopped uncleanly, which is not the question.
   */
  unclean: boolean;
}

/**
 * Orders replicas after a start or crash by their generation marks. The generation is bumped
 * whenever replica membership changes, so a replica that missed writes is always behind.
 */
export function chooseUpToDate(candidates: readonly StartupCandidate[]): StartupChoice {
  if (candidates.length === 0) throw new Error('no replicas to start from');
  const max = Math.max(...candidates.map((c) => c.info.generation));
  const newest = candidates.filter((c) => c.info.generation === max);
  const stale = candidates.filter((c) => c.info.generation !== max).map((c) => c.id);
  const unclean = max % 2 === 1;
  // Of equally new replicas after an unclean stop, prefer the one with the largest size, then
  // a stable order, so repeated starts pick the same source.
  const ordered = [...newest].sort((a, b) => b.info.size - a.info.size || a.id.localeCompare(b.id));
  return { current: ordered.map((c) => c.id), stale, unclean };
}
