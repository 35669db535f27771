/**
 * Filter rules: small predicates `(pod, node, ctx) -> reason | undefined`; the first reason is
 * the node's failure message. Pods without Longhorn volumes are never filtered.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { CandidateNode, PodContext } from './pod-context.js';

export type Predicate = (pod: V1Pod, node: CandidateNode, ctx: PodContext) => string | undefined;

/**
 * A node the extender's cache does not know (yet) cannot be checked; the scheduler retries the
 * pod once the node shows up in the cache.
 */
export const knownNode: Predicate = (_pod, node, ctx) =>
  ctx.volumes.length > 0 && node.node === undefined
    ? `node ${node.name} is not in the longhorn-ts extender's cache yet`
    : undefined;

/**
 * strict-local: the pod runs where a healthy replica of each such volume is. A volume whose
 * replicas have no node yet is not provisioned and does not restrict the pod.
 */
export const strictLocalReplica: Predicate = (_pod, node, ctx) => {
  for (const v of ctx.volumes) {
    if (v.dataLocality !== 'strict-local' || !v.placed || v.healthyNodes.has(node.name)) continue;
    const where =
      v.healthyNodes.size > 0
        ? `healthy replicas on ${[...v.healthyNodes].sort().join(', ')}`
        : 'no healthy replica';
    return `strict-local volume ${v.volume} (claim ${v.claim}) has no healthy replica on node ${node.name} (${where})`;
  }
  return undefined;
};

export const PREDICATES: readonly { name: string; check: Predicate }[] = [
  { name: 'known-node', check: knownNode },
  { name: 'strict-local-replica', check: strictLocalReplica },
];

/** The first failing predicate's reason, or undefined when the node passes. */
export function firstFailure(
  pod: V1Pod,
  node: CandidateNode,
  ctx: PodContext,
  predicates: readonly { check: Predicate }[] = PREDICATES,
): string | undefined {
  for (const p of predicates) {
    const reason = p.check(pod, node, ctx);
    if (reason !== undefined) return reason;
  }
  return undefined;
}
