/**
 * Which node's operator acts on a CR (status.ownerID). Exactly one should: every operator runs
 * the same pure decision on the same cache, and the write of ownerID carries resourceVersion,
 * so two that briefly disagree cannot both win.
 *
 * Longhorn's rule (controller_manager.go isControllerResponsibleFor): the preferred owner when
 * it is up; else the current owner keeps it while it is up; when both are down any node may
 * take it. Where Longhorn lets every live node race for it, we pick one: the live node that
 * ranks highest for this object by rendezvous hashing, so orphans spread over the survivors and
 * a node that comes or goes moves only the objects that rank it first.
 */

export type OwnedObject =
  /** Preferred: the node it is attached to (spec.nodeID); a detached volume stays where it is. */
  | { kind: 'Volume'; nodeID: string; ownerID: string }
  /** Preferred: the node the instance runs on (spec.nodeID). */
  | { kind: 'Engine' | 'Replica'; nodeID: string; ownerID: string }
  /** Preferred: itself. */
  | { kind: 'Node'; name: string; ownerID: string };

export function preferredOwner(obj: OwnedObject): string {
  switch (obj.kind) {
    case 'Volume':
      return obj.nodeID !== '' ? obj.nodeID : obj.ownerID;
    case 'Engine':
    case 'Replica':
      return obj.nodeID;
    case 'Node':
      return obj.name;
  }
}

export interface OwnershipInput {
  /** The object's cache key (namespace/name): what the fallback pick hashes. */
  key: string;
  preferred: string;
  current: string;
  /** Nodes whose operator is up (Node Ready, its manager running). */
  liveNodes: ReadonlySet<string> | readonly string[];
}

/** The owner the object should have, or undefined when no operator is up. */
export function chooseOwner(input: OwnershipInput): string | undefined {
  const live = input.liveNodes instanceof Set ? input.liveNodes : new Set(input.liveNodes);
  if (input.preferred !== '' && live.has(input.preferred)) return input.preferred;
  if (input.current !== '' && live.has(input.current)) return input.current;
  let best: string | undefined;
  let bestScore = -1;
  for (const node of live) {
    const score = fnv1a(`${input.key}\u0000${node}`);
    if (score > bestScore || (score === bestScore && best !== undefined && node < best)) {
      best = node;
      bestScore = score;
    }
  }
  return best;
}

export function isResponsible(controllerID: string, input: OwnershipInput): boolean {
  return chooseOwner(input) === controllerID;
}

/** 32-bit FNV-1a over UTF-16 code units: small, stable across processes and versions. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
