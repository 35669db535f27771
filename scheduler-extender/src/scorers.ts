/**
 * Prioritize rules: scorers `(pod, node, ctx) -> 0..10 | undefined` (undefined: the rule has no
 * opinion about this pod). A node's score is the weighted mean of the scorers that have one,
 * rounded; a pod no scorer cares about gets the same score on every node.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { MAX_EXTENDER_PRIORITY, MIN_EXTENDER_PRIORITY } from './extender-api.js';
import type { CandidateNode, PodContext } from './pod-context.js';
import { zoneOf } from './workload.js';

export type Scorer = (pod: V1Pod, node: CandidateNode, ctx: PodContext) => number | undefined;

/** best-effort: the share of the pod's best-effort volumes with a healthy replica on the node. */
export const replicaLocality: Scorer = (_pod, node, ctx) => {
  let wanted = 0;
  let local = 0;
  for (const v of ctx.volumes) {
    if (v.dataLocality !== 'best-effort') continue;
    wanted++;
    if (v.healthyNodes.has(node.name)) local++;
  }
  return wanted === 0 ? undefined : (MAX_EXTENDER_PRIORITY * local) / wanted;
};

/** Zones holding fewer of the workload's pods score higher; a node without a zone scores lowest. */
export const zoneSpread: Scorer = (_pod, node, ctx) => {
  const spread = ctx.spread;
  if (spread === undefined) return undefined;
  const zone = zoneOf(node.node);
  const count = zone === undefined ? undefined : spread.counts.get(zone);
  if (count === undefined) return MIN_EXTENDER_PRIORITY;
  if (spread.max === spread.min) return MAX_EXTENDER_PRIORITY;
  return (MAX_EXTENDER_PRIORITY * (spread.max - count)) / (spread.max - spread.min);
};

export const SCORERS: readonly { name: string; weight: number; score: Scorer }[] = [
  // Data next to the pod saves every read a network hop: it outweighs spreading.
  { name: 'replica-locality', weight: 2, score: replicaLocality },
  { name: 'zone-spread', weight: 1, score: zoneSpread },
];

export function combinedScore(
  pod: V1Pod,
  node: CandidateNode,
  ctx: PodContext,
  scorers: readonly { weight: number; score: Scorer }[] = SCORERS,
): number {
  let sum = 0;
  let weights = 0;
  for (const s of scorers) {
    const value = s.score(pod, node, ctx);
    if (value === undefined) continue;
    sum += s.weight * value;
    weights += s.weight;
  }
  if (weights === 0) return MIN_EXTENDER_PRIORITY;
  const score = Math.round(sum / weights);
  return Math.min(MAX_EXTENDER_PRIORITY, Math.max(MIN_EXTENDER_PRIORITY, score));
}
