import type { ReplicaInfo } from '../replica/types.js';

export interface StartupCandidate {
  id: string;
  info: ReplicaInfo;
}

/**
 * What the engine last recorded about generations, kept outside the replicas (the engine's state
 * file; later the Engine CR). `issued` is recorded before a generation is sent to any replica,
 * `committed` after every RW replica holds it and before any write is acknowledged under it.
 */
export interface GenerationRecord {
  /** Every write acknowledged so far is on each replica whose generation is at least this. */
  committed: number;
  /** No replica holds a generation above this one. */
  issued: number;
}

export interface StartupFacts {
  /** Replicas that answered at start, with their info. */
  answered: readonly StartupCandidate[];
  /** Members that did not answer. */
  unreachable: readonly string[];
  /** What the last engine recorded; undefined when nothing was recorded (a new volume). */
  record?: GenerationRecord | undefined;
  /** Start from the best replica that answered even when it cannot be proven current. */
  salvage?: boolean;
}

export interface StartupChoice {
  /** Replicas holding the newest data, to serve reads (RW). */
  current: string[];
  /** Replicas whose generation is behind: never read from; rebuilt or rejected. */
  stale: string[];
  /**
   * True when the last engine did not stop cleanly (the newest generation is odd: engines keep
   * it odd while serving and make it even on a clean stop). Writes in flight at the crash may
   * have reached some current replicas and not others, so they are reconciled before serving.
   * The store's own dirty flag is not used: it says the replica server stopped uncleanly, which
   * is not the question.
   */
  unclean: boolean;
  /** The generation to serve under: odd, above every generation ever issued. */
  generation: number;
  /** Set when `salvage` was needed to start: why the choice is not proven current. */
  salvaged?: string;
}

export type StartupDecision = { ok: true; choice: StartupChoice } | { ok: false; reason: string };

/**
 * Orders replicas at start by their generation marks. The generation is bumped whenever replica
 * membership changes, so a replica that missed an acknowledged write is always behind. The
 * newest replica that answered is proven current only when its generation reaches the one the
 * last engine committed, or when every member answered (nothing newer can hide); otherwise the
 * start is refused, unless the caller asks to salvage, as Longhorn's salvage is explicit.
 */
export function decideStartup(facts: StartupFacts): StartupDecision {
  const { answered, unreachable, record } = facts;
  if (answered.length === 0) return { ok: false, reason: 'no replica answered' };
  const max = Math.max(...answered.map((c) => c.info.generation));
  const newest = answered.filter((c) => c.info.generation === max);
  const stale = answered.filter((c) => c.info.generation !== max).map((c) => c.id);
  // Of equally new replicas prefer the largest, then a stable order, so repeated starts agree.
  const current = [...newest].sort((a, b) => b.info.size - a.info.size || a.id.localeCompare(b.id));
  let salvaged: string | undefined;
  const unproven = provenReason(max, unreachable, record);
  if (unproven) {
    if (!facts.salvage) return { ok: false, reason: `${unproven}; salvage to start from what answered` };
    salvaged = unproven;
  }
  const base = Math.max(max, record?.issued ?? 0, record?.committed ?? 0);
  const generation = base % 2 === 0 ? base + 1 : base + 2;
  return {
    ok: true,
    choice: {
      current: current.map((c) => c.id),
      stale,
      unclean: max % 2 === 1,
      generation,
      ...(salvaged ? { salvaged } : {}),
    },
  };
}

/** Why the newest answering replica is not proven current, or undefined when it is. */
function provenReason(
  max: number,
  unreachable: readonly string[],
  record: GenerationRecord | undefined,
): string | undefined {
  if (record) {
    if (max >= record.committed) return undefined;
    return (
      `the newest replica that answered holds generation ${max}, behind the committed ` +
      `${record.committed}; the current replicas${listed(unreachable)} are unreachable`
    );
  }
  if (unreachable.length === 0) return undefined;
  return `no generation record, and replicas${listed(unreachable)} did not answer: one of them may be newer`;
}

function listed(ids: readonly string[]): string {
  return ids.length > 0 ? ` (${ids.join(', ')})` : '';
}
