/**
 * Everything the rules need about one pod, worked out once per request (not once per node):
 * its Longhorn volumes and, for zone spread, where its workload's pods already are.
 */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { ClusterView } from './cluster-view.js';
import { type LonghornVolumeUse, longhornVolumesOf } from './pod-volumes.js';
import { workloadPeers, zoneCounts, zoneOf } from './workload.js';

/** A node the scheduler asks about, with its object from the cache (undefined: unknown to us). */
export interface CandidateNode {
  name: string;
  node: V1Node | undefined;
}

export interface ZoneSpread {
  /** Pods of the workload per zone among the candidates' zones. */
  counts: ReadonlyMap<string, number>;
  min: number;
  max: number;
}

export interface PodContext {
  volumes: readonly LonghornVolumeUse[];
  /** Undefined when the pod has no Longhorn volume, no workload, or no candidate has a zone. */
  spread: ZoneSpread | undefined;
}

export function candidatesOf(names: readonly string[], view: ClusterView): CandidateNode[] {
  return names.map((name) => ({ name, node: view.node(name) }));
}

export function podContext(pod: V1Pod, candidates: readonly CandidateNode[], view: ClusterView): PodContext {
  const volumes = longhornVolumesOf(pod, view);
  if (volumes.length === 0) return { volumes, spread: undefined };
  return { volumes, spread: zoneSpread(pod, candidates, view) };
}

function zoneSpread(
  pod: V1Pod,
  candidates: readonly CandidateNode[],
  view: ClusterView,
): ZoneSpread | undefined {
  const zones = new Set<string>();
  for (const c of candidates) {
    const zone = zoneOf(c.node);
    if (zone !== undefined) zones.add(zone);
  }
  if (zones.size === 0) return undefined;
  const peers = workloadPeers(pod, view.scheduledPods(pod.metadata?.namespace || 'default'));
  if (peers === undefined) return undefined;
  const counts = zoneCounts(peers, zones, view);
  const values = [...counts.values()];
  return { counts, min: Math.min(...values), max: Math.max(...values) };
}
