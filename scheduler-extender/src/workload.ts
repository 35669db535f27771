/**
 * Pods of one workload and how they sit across zones. A workload is the pod's controller (its
 * ownerReference with controller: true); a pod without one belongs with the pods of its
 * namespace that carry exactly the same (non-empty) labels.
 */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { TOPOLOGY_ZONE_LABEL } from '@longhorn-ts/api';
import type { ClusterView } from './cluster-view.js';

export function zoneOf(node: V1Node | undefined): string | undefined {
  const zone = node?.metadata?.labels?.[TOPOLOGY_ZONE_LABEL];
  return zone ? zone : undefined;
}

function controllerUid(pod: V1Pod): string | undefined {
  return pod.metadata?.ownerReferences?.find((o) => o.controller === true)?.uid;
}

function sameLabels(a: Record<string, string>, b: Record<string, string> | undefined): boolean {
  if (!b) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => a[k] === b[k]);
}

/** Other scheduled pods of the pod's workload; undefined when the pod has no workload to spread. */
export function workloadPeers(pod: V1Pod, scheduled: readonly V1Pod[]): V1Pod[] | undefined {
  const self = (p: V1Pod) =>
    (pod.metadata?.uid !== undefined && p.metadata?.uid === pod.metadata.uid) ||
    p.metadata?.name === pod.metadata?.name;
  const owner = controllerUid(pod);
  if (owner !== undefined) return scheduled.filter((p) => !self(p) && controllerUid(p) === owner);
  const labels = pod.metadata?.labels;
  if (!labels || Object.keys(labels).length === 0) return undefined;
  return scheduled.filter(
    (p) => !self(p) && controllerUid(p) === undefined && sameLabels(labels, p.metadata?.labels),
  );
}

/** Count of the peers in each zone of `zones` (zones of no peer count 0). */
export function zoneCounts(
  peers: readonly V1Pod[],
  zones: Iterable<string>,
  view: ClusterView,
): Map<string, number> {
  const counts = new Map<string, number>();
  for (const z of zones) counts.set(z, 0);
  for (const p of peers) {
    const zone = zoneOf(view.node(p.spec?.nodeName ?? ''));
    if (zone !== undefined && counts.has(zone)) counts.set(zone, (counts.get(zone) ?? 0) + 1);
  }
  return counts;
}
