import type { Logger } from '../logging/logger.js';
import type { ReplicaInfo } from '../replica/types.js';
import { reconcileAfterCrash } from './crash-reconcile.js';
import type { StartupCandidate, StartupChoice } from './generation-choice.js';
import type { ReplicaMode } from './replica-mode.js';
import { errorText, type ReplicaEndpoint } from './replica-set.js';

export interface Probed {
  answered: StartupCandidate[];
  unreachable: string[];
  /** Per replica, its info or why it did not answer. */
  results: Map<string, { info: ReplicaInfo } | { error: string }>;
}

/** Asks every replica for its info (generation, size) at once. */
export async function probeReplicas(replicas: readonly ReplicaEndpoint[]): Promise<Probed> {
  const infos = await Promise.allSettled(replicas.map((r) => r.backend.info()));
  const probed: Probed = { answered: [], unreachable: [], results: new Map() };
  infos.forEach((res, i) => {
    const id = replicas[i]!.id;
    if (res.status === 'fulfilled') {
      probed.answered.push({ id, info: res.value });
      probed.results.set(id, { info: res.value });
    } else {
      probed.unreachable.push(id);
      probed.results.set(id, { error: errorText(res.reason) });
    }
  });
  return probed;
}

/**
 * After an unclean stop, makes the current replicas equal again (see crash-reconcile.ts).
 * Returns, per other current replica, null when reconciled or why it needs a rebuild.
 */
export async function reconcileCurrent(
  replicas: readonly ReplicaEndpoint[],
  probed: Probed,
  choice: StartupChoice,
  log: Logger,
): Promise<Map<string, string | null>> {
  if (!choice.unclean) return new Map();
  const sourceId = choice.current[0]!;
  const size = sizeOf(probed, sourceId);
  const source = replicas.find((r) => r.id === sourceId)!;
  const others = replicas.filter(
    (r) => r.id !== sourceId && choice.current.includes(r.id) && sizeOf(probed, r.id) === size,
  );
  if (others.length === 0) return new Map();
  try {
    return await reconcileAfterCrash(source, others, log);
  } catch (err) {
    log.warn({ err: errorText(err) }, 'reconcile after an unclean stop failed; the others need a rebuild');
    return new Map(others.map((o) => [o.id, `needs rebuild after an unclean stop: ${errorText(err)}`]));
  }
}

/** The mode each replica starts in, and why it is ERR when it is. Pure. */
export function initialModes(
  ids: readonly string[],
  probed: Probed,
  choice: StartupChoice,
  reconciled: ReadonlyMap<string, string | null>,
): { id: string; mode: ReplicaMode; error?: string }[] {
  const sourceId = choice.current[0]!;
  const size = sizeOf(probed, sourceId);
  return ids.map((id) => {
    const res = probed.results.get(id);
    const err = (error: string) => ({ id, mode: 'ERR' as const, error });
    if (!res || 'error' in res) return err(`unreachable at start: ${res?.error ?? 'no answer'}`);
    if (choice.stale.includes(id)) return err(`stale: generation ${res.info.generation} is behind`);
    if (res.info.size !== size) return err(`size ${res.info.size} differs from ${size}`);
    if (choice.unclean && id !== sourceId && reconciled.get(id) !== null) {
      return err(reconciled.get(id) ?? 'needs rebuild after an unclean stop');
    }
    return { id, mode: 'RW' as const };
  });
}

function sizeOf(probed: Probed, id: string): number | undefined {
  const res = probed.results.get(id);
  return res && 'info' in res ? res.info.size : undefined;
}
