/**
 * Which replicas a salvage brings back (pure), with Longhorn's checks (its manager's Salvage):
 * the volume detached and faulted; each replica the volume's own, on a node that is up, on a disk
 * that is schedulable. Longhorn's UI asks which replicas; without names this takes every failed
 * replica that once held data and passes the checks. Salvage itself is clearing their
 * spec.failedAt, as Longhorn's manager does; the volume controller then reattaches.
 */
import type { Node, Replica, Volume } from '@longhorn-ts/api';

export type SalvagePlan = { replicas: string[] } | { refusal: string; code: 'REFUSED' | 'NOT_FOUND' };

function nodeReady(node: Node | undefined): boolean {
  return node?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
}

function diskSchedulable(node: Node | undefined, diskID: string): boolean {
  for (const d of Object.values(node?.status?.diskStatus ?? {})) {
    if (d.diskUUID === diskID && diskID !== '') {
      return d.conditions?.find((c) => c.type === 'Schedulable')?.status === 'True';
    }
  }
  return false;
}

/** Why this replica cannot be salvaged; undefined when it can. */
function replicaProblem(r: Replica, nodes: readonly Node[]): string | undefined {
  const name = r.metadata.name;
  const nodeID = r.spec.nodeID ?? '';
  if (nodeID === '') return `replica ${name} was never scheduled: it holds no data`;
  if (!r.spec.healthyAt) return `replica ${name} never held the volume's data`;
  const node = nodes.find((n) => n.metadata.name === nodeID);
  if (!nodeReady(node)) return `node ${nodeID} of replica ${name} is down or gone`;
  if (!diskSchedulable(node, r.spec.diskID ?? '')) {
    return `disk ${r.spec.diskID ?? ''} on node ${nodeID} is unschedulable for replica ${name}`;
  }
  return undefined;
}

export function salvagePlan(
  volume: Volume,
  replicas: readonly Replica[],
  nodes: readonly Node[],
  named: readonly string[],
): SalvagePlan {
  const v = volume.metadata.name;
  const state = volume.status?.state ?? '';
  const robustness = volume.status?.robustness ?? '';
  if (robustness !== 'faulted') {
    return {
      code: 'REFUSED',
      refusal: `volume ${v} is ${robustness || 'unknown'}, not faulted: only a faulted volume is salvaged`,
    };
  }
  if (state !== 'detached') {
    return {
      code: 'REFUSED',
      refusal: `volume ${v} is ${state || 'not detached'}: a faulted volume is salvaged once detached; wait for it to detach`,
    };
  }
  const own = replicas.filter((r) => r.spec.volumeName === v && r.metadata.deletionTimestamp === undefined);
  if (named.length > 0) {
    for (const n of named) {
      if (!own.some((r) => r.metadata.name === n)) {
        return {
          code: 'NOT_FOUND',
          refusal: `volume ${v} has no replica "${n}"; its replicas: ${own.map((r) => r.metadata.name).join(', ') || 'none'}`,
        };
      }
    }
    for (const n of named) {
      const problem = replicaProblem(own.find((r) => r.metadata.name === n)!, nodes);
      if (problem !== undefined)
        return { code: 'REFUSED', refusal: `cannot salvage volume ${v}: ${problem}` };
    }
    return { replicas: [...named] };
  }
  const candidates = own.filter((r) => r.spec.failedAt && replicaProblem(r, nodes) === undefined);
  if (candidates.length === 0) {
    const why = own.map((r) => replicaProblem(r, nodes)).filter((p) => p !== undefined);
    return {
      code: 'REFUSED',
      refusal: `cannot salvage volume ${v}: no failed replica that held its data can come back${why.length ? ` (${why.join('; ')})` : ''}`,
    };
  }
  return { replicas: candidates.map((r) => r.metadata.name).sort() };
}
