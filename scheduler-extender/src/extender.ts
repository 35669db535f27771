/** The two verbs as pure functions of a checked request and the cluster view. */

import type { ClusterView } from './cluster-view.js';
import type { CheckedArgs, ExtenderFilterResult, FailedNodesMap, HostPriorityList } from './extender-api.js';
import { candidatesOf, podContext } from './pod-context.js';
import { firstFailure } from './predicates.js';
import { combinedScore } from './scorers.js';

export function filter(args: CheckedArgs, view: ClusterView): ExtenderFilterResult {
  const candidates = candidatesOf(args.nodeNames, view);
  const ctx = podContext(args.pod, candidates, view);
  const passed: string[] = [];
  const failed: FailedNodesMap = {};
  const unresolvable: FailedNodesMap = {};
  for (const c of candidates) {
    const reason = ctx.volumes.length === 0 ? undefined : firstFailure(args.pod, c, ctx);
    if (reason === undefined) {
      passed.push(c.name);
      continue;
    }
    failed[c.name] = reason;
    // Evicting pods never moves a replica; only an unknown node may pass later by itself.
    if (c.node !== undefined) unresolvable[c.name] = reason;
  }
  const result: ExtenderFilterResult = { NodeNames: passed, FailedNodes: failed, Error: '' };
  if (Object.keys(unresolvable).length > 0) result.FailedAndUnresolvableNodes = unresolvable;
  if (args.nodes !== undefined) {
    const keep = new Set(passed);
    result.NodeNames = null;
    result.Nodes = { items: args.nodes.filter((n) => keep.has(n.metadata?.name ?? '')) };
  }
  return result;
}

export function prioritize(args: CheckedArgs, view: ClusterView): HostPriorityList {
  const candidates = candidatesOf(args.nodeNames, view);
  const ctx = podContext(args.pod, candidates, view);
  return candidates.map((c) => ({ Host: c.name, Score: combinedScore(args.pod, c, ctx) }));
}
