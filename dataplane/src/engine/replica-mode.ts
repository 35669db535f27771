/** Longhorn's replica modes: read-write, write-only (rebuilding), error (ejected). */
export type ReplicaMode = 'RW' | 'WO' | 'ERR';

export type Robustness = 'healthy' | 'degraded' | 'faulted';

/** Robustness from the modes, as Longhorn derives it: every wanted replica RW is healthy. */
export function robustness(modes: readonly ReplicaMode[], wanted: number): Robustness {
  const rw = modes.filter((m) => m === 'RW').length;
  if (rw === 0) return 'faulted';
  return rw >= wanted ? 'healthy' : 'degraded';
}
